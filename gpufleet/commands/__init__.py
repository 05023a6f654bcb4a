"""The bodies of the `gpu-fleet` commands, one module each; `gpufleet/cli.py` wires the command line.

Each module is imported only when its command runs, so a command pays only for what it uses: `--help` and
`prices` load no Pulumi and no config model, `plan --no-policy` no policy SDK, `openshift discover` no provider.
"""

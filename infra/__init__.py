"""The gpu-fleet Pulumi program: reads the stack's configuration and composes the components."""

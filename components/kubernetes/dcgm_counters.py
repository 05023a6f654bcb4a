"""The dcgm-exporter counters file gpu-fleet ships: the exporter's defaults plus the GPU hardware-health fields.

dcgm-exporter's defaults leave out what on-call needs to see a failing GPU: the XID count per code (the default
`DCGM_FI_DEV_XID_ERRORS` gauge holds only the last code, so a repeat is never seen), double-bit ECC errors,
NVLink CRC and replay errors, and thermal and power throttling (all commented out in its `etc/default-counters.csv`,
../shared/reference/metrics/dcgm-default-counters.csv). This file enables them. It reaches the exporter the way
each chart documents:

- the standalone chart (NVIDIA/dcgm-exporter `deployment/values.yaml` `customMetrics`): rendered into the chart's
  `exporter-metrics-config-map` (`templates/metrics-configmap.yaml`), which the chart's default
  `extraConfigMapVolumes`/`extraVolumeMounts` mount at `/etc/dcgm-exporter/default-counters.csv`, the exporter's
  default `-f` (`pkg/cmd/app.go`, CLIFieldsFile);
- the GPU Operator (`dcgmExporter.config.{name,create,data}`, NVIDIA/gpu-operator
  `templates/dcgm_exporter_config.yaml`): a ConfigMap under key `dcgm-metrics.csv`, which the operator mounts and
  points `DCGM_EXPORTER_COLLECTORS` at (`internal/state/dcgm_exporter.go`).

`DCGM_EXP_XID_ERRORS_COUNT` is the exporter's own field: a gauge per GPU and `xid` code counting that code's errors
in the last `window_size_in_ms` (default 5 minutes, `--xid-count-window-size`), with no `xid` label and value 0 when
there were none (NVIDIA/dcgm-exporter `internal/pkg/collector/xid_collector.go`, `expcollector.go` @d5e5f51).
"""

from __future__ import annotations

from typing import Any

COUNTERS_CONFIGMAP = "gpufleet-dcgm-counters"
"""The GPU Operator's counters ConfigMap (created by its chart in the operator's namespace)."""

DEFAULT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_ENC_UTIL", "gauge", "Encoder utilization (in %)."),
    ("DCGM_FI_DEV_DEC_UTIL", "gauge", "Decoder utilization (in %)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
    ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "gauge", "Total number of NVLink bandwidth counters for all lanes."),
    ("DCGM_FI_DEV_VGPU_LICENSE_STATUS", "gauge", "vGPU License status"),
    ("DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for uncorrectable errors"),
    ("DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS", "counter", "Number of remapped rows for correctable errors"),
    ("DCGM_FI_DEV_ROW_REMAP_FAILURE", "gauge", "Whether remapping of rows has failed"),
    ("DCGM_FI_DRIVER_VERSION", "label", "Driver Version"),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge",
     "Ratio of cycles the device memory interface is active sending or receiving data."),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "The rate of data transmitted over the PCIe bus in bytes per second."),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "The rate of data received over the PCIe bus in bytes per second."),
)
"""The fields dcgm-exporter's own default file enables (4.8.3 `etc/default-counters.csv`), kept as they are so
dashboards and the cost rules read the same series with or without gpu-fleet's file."""

HEALTH_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_EXP_XID_ERRORS_COUNT", "gauge", "XID errors observed during the configured time window."),
    ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "counter", "Total number of double-bit volatile ECC errors."),
    ("DCGM_FI_DEV_NVLINK_CRC_FLIT_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink flow-control CRC errors."),
    ("DCGM_FI_DEV_NVLINK_CRC_DATA_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink data CRC errors."),
    ("DCGM_FI_DEV_NVLINK_REPLAY_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink retries."),
    ("DCGM_FI_DEV_NVLINK_RECOVERY_ERROR_COUNT_TOTAL", "counter", "Total number of NVLink recovery errors."),
    ("DCGM_FI_DEV_THERMAL_VIOLATION", "counter", "Throttling duration due to thermal constraints (in ns)."),
    ("DCGM_FI_DEV_POWER_VIOLATION", "counter", "Throttling duration due to power constraints (in ns)."),
)
"""What gpu-fleet adds: the fields its hardware-health alerts read (names, types and help as the reference lists
them, commented out there)."""


def counter_fields() -> tuple[tuple[str, str, str], ...]:
    """Every field the file enables: the defaults, then the health fields."""
    return DEFAULT_FIELDS + HEALTH_FIELDS


def counters_csv() -> str:
    """The file, in dcgm-exporter's format (`DCGM FIELD, Prometheus metric type, help message` per line)."""
    lines = ["# gpu-fleet: dcgm-exporter's default counters plus the GPU hardware-health fields.",
             "# DCGM FIELD, Prometheus metric type, help message"]
    lines += [f"{name}, {kind}, {help_text}" for name, kind, help_text in counter_fields()]
    return "\n".join(lines) + "\n"


def enabled_metrics() -> frozenset[str]:
    """The metric names the exporter emits with this file (label fields become labels, not series)."""
    return frozenset(name for name, kind, _ in counter_fields() if kind != "label")


def operator_counters() -> dict[str, Any]:
    """The GPU Operator chart's `dcgmExporter.config`: a ConfigMap of this file, created by the chart."""
    return {"name": COUNTERS_CONFIGMAP, "create": True, "data": counters_csv()}

"""Monitoring every platform installs: GPU alert and cost rules, the Alertmanager that delivers them, dashboards.

The rules are defined once (`rules`), the Alertmanager configuration is built from the stack's receivers
(`alertmanager`), and per platform a stack evaluates and delivers them (`gmp` for GKE managed Prometheus,
`prometheus_stack` for kube-prometheus-stack). Dashboards as code (`dashboards`, `dashboard_configmap`) and the
budget guard's PromQL (`budget_guard`) read the same recording rules.
"""

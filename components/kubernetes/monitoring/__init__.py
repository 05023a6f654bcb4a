"""Monitoring content any platform ships: dashboards as code and the budget guard's PromQL."""

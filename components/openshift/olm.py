"""How gpu-fleet waits for an OLM install, shared by the Subscriptions it declares and the pack policy that checks them.

Apart from `components.openshift.operators` so that the policy pack loads no stack model to read one string.
"""

from __future__ import annotations

WAIT_FOR_CSV = "jsonpath={.status.installedCSV}"
"""pulumi-kubernetes' `pulumi.com/waitFor` on a Subscription: ready once OLM reports the CSV it installed."""

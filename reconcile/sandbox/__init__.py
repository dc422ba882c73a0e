"""The sandbox: a local emulator of the vendor's ticketing API, like moto or LocalStack.

It imports nothing from the rest of ``reconcile``: it is a product of its own, tested
on its own, and it is what the client's tests, the demo and the benchmarks run against.

```python
from reconcile.sandbox import Sandbox, SandboxOptions

with Sandbox(SandboxOptions(port=0, demo=True)) as sandbox:
    requests.get(f"{sandbox.base_url}/api/v2/ticketing/ticket/REQ-0509",
                 headers=sandbox.headers())
```

See ``docs/sandbox.md`` for the options, the demo tenant and the order of checks.
"""

from reconcile.sandbox.auth import make_token
from reconcile.sandbox.demo import DEMO_ADMIN, DEMO_CLIENTS, DEMO_READER, DEMO_WRITER
from reconcile.sandbox.options import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_REALM,
    DEFAULT_RETRY_AFTER,
    DEFAULT_SCOPE,
    DEFAULT_SECRET,
    DEFAULT_TENANT_ID,
    DEFAULT_TOKEN_LIFETIME,
    Client,
    SandboxError,
    SandboxOptions,
)
from reconcile.sandbox.server import Sandbox

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_REALM",
    "DEFAULT_RETRY_AFTER",
    "DEFAULT_SCOPE",
    "DEFAULT_SECRET",
    "DEFAULT_TENANT_ID",
    "DEFAULT_TOKEN_LIFETIME",
    "DEMO_ADMIN",
    "DEMO_CLIENTS",
    "DEMO_READER",
    "DEMO_WRITER",
    "Client",
    "Sandbox",
    "SandboxError",
    "SandboxOptions",
    "make_token",
]

"""Master keys protected by a HashiCorp Vault (or OpenBao) transit key: never on disk in plaintext.

The transit key is the top of the key hierarchy::

    transit key (in Vault, never leaves it)  --wraps-->  master keys (keyring file or env, as
    ``vault:v<N>:…`` tokens)  --wraps-->  subject keys  --wraps-->  data keys  --seal-->  records

Each process unwraps the few master keys once (one transit call per key) and keeps them in memory, so
sealing and opening records costs no Vault round trip; this is the envelope pattern of Kubernetes KMS v2
and of Vault's own auto-unseal. Each wrap is bound to its role with transit's associated data
(``datavault/master-key|<id>``, ``datavault/pseudonym-key``): a token copied to another key id does not
open. Revoking DataVault's Vault policy, or deleting the transit key, makes every record, sealed raw
entry and identity unreadable at once; rotating the transit key (``vault write -f
transit/keys/<key>/rotate``) and then ``datavault keys rotate`` re-wraps everything under the newest
transit version, after which the old versions can be retired with ``min_decryption_version``.

Configuration: ``DATAVAULT_KEY_BACKEND=vault-transit``, ``VAULT_ADDR``, ``VAULT_TOKEN`` (or
``~/.vault-token``), optionally ``VAULT_NAMESPACE``, ``DATAVAULT_TRANSIT_MOUNT`` (``transit``) and
``DATAVAULT_TRANSIT_KEY`` (``datavault``). The token needs ``update`` on ``<mount>/encrypt/<key>`` and
``<mount>/decrypt/<key>`` and ``read`` on ``<mount>/keys/<key>``.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from ..domain.errors import ConfigError, KeyringError

BACKEND = "vault-transit"
_TOKEN = re.compile(r"vault:v(\d+):[A-Za-z0-9+/=]+")


def token_version(token: str) -> int:
    """The transit key version a wrapped token was made with (``vault:v3:…`` → 3)."""
    match = _TOKEN.fullmatch(token.strip())
    if not match:
        raise KeyringError("a wrapped key is not a transit ciphertext (vault:v<N>:<base64>)")
    return int(match.group(1))


class TransitKeyWrap:
    """Wrap and unwrap DataVault's master keys with one transit key (the `Wrap`/`Unwrap` of `domain.crypto`)."""

    def __init__(self, url: str | None, mount: str = "transit", key: str = "datavault",
                 token: str | None = None, namespace: str | None = None, client: Any = None) -> None:
        if client is None:
            try:
                import hvac
            except ImportError as exc:  # the backend is optional
                raise ConfigError("DATAVAULT_KEY_BACKEND=vault-transit needs hvac: pip install 'datavault[vault]'") \
                    from exc
            if not url:
                raise ConfigError("DATAVAULT_KEY_BACKEND=vault-transit needs VAULT_ADDR")
            client = hvac.Client(url=url, token=token, namespace=namespace or os.environ.get("VAULT_NAMESPACE"))
        self._client = client
        self.mount = mount
        self.key = key

    def __repr__(self) -> str:  # never the token
        return f"TransitKeyWrap(mount={self.mount!r}, key={self.key!r})"

    @property
    def protection(self) -> dict[str, str]:
        """What a protected keyring file records about its wrapping (no address, no token)."""
        return {"backend": BACKEND, "mount": self.mount, "key": self.key}

    def matches(self, protection: dict[str, str]) -> bool:
        """True if a keyring file's `protection` names this transit key."""
        return protection == self.protection

    def wrap(self, label: str, key: bytes) -> str:
        """Encrypt `key` under the newest version of the transit key, bound to `label`."""
        data = self._call("wrap", self._client.secrets.transit.encrypt_data, name=self.key, mount_point=self.mount,
                          plaintext=_b64(key), associated_data=_b64(label.encode()))
        return data["ciphertext"]

    def unwrap(self, label: str, token: str) -> bytes:
        """Decrypt a wrapped key; fails with `KeyringError` if it was wrapped for another label or key."""
        token_version(token)
        data = self._call("unwrap", self._client.secrets.transit.decrypt_data, name=self.key,
                          mount_point=self.mount, ciphertext=token.strip(), associated_data=_b64(label.encode()))
        return base64.b64decode(data["plaintext"])

    def latest_version(self) -> int:
        """The transit key's newest version (the one `wrap` uses)."""
        data = self._call("read", self._client.secrets.transit.read_key, name=self.key, mount_point=self.mount)
        return int(data["latest_version"])

    def _call(self, what: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
        import hvac.exceptions
        import requests

        try:
            return fn(**kwargs)["data"]
        except hvac.exceptions.VaultError as exc:
            # Vault's own error text ("permission denied", "cipher: message authentication failed") holds
            # no key material and no record data
            reason = "; ".join(str(e) for e in (exc.errors or [])) or type(exc).__name__
            raise KeyringError(f"Vault transit could not {what} with key {self.mount}/{self.key}: {reason}") \
                from exc
        except requests.RequestException as exc:
            raise KeyringError(f"Vault transit is unreachable ({type(exc).__name__}) for {what} with key "
                               f"{self.mount}/{self.key}") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()

"""Master keys wrapped by a real Vault-API transit key (OpenBao `bao server -dev`), through the CLI and Dagster."""

from __future__ import annotations

import base64
import io
import json

import pytest

from datavault_dagster import runtime
from datavault_dagster.cli import keys_protect, keys_report, keys_rotate, main
from datavault_dagster.domain.crypto import Keyring, envelope_version
from datavault_dagster.domain.errors import KeyringError
from datavault_dagster.pipeline import open_record
from datavault_dagster.services.settings import Settings
from datavault_dagster.services.transit import TransitKeyWrap, token_version
from datavault_dagster.services.vault import Vault
from tests.support import ingest


def _rows(vault: Vault):
    return [r for key in vault.partition_keys() for r in vault.partition_records(key)]


def _b64s(ring: Keyring) -> list[str]:
    return [base64.b64encode(k).decode() for k in (*ring.keys.values(), ring.pseudonym_key)]


def _new_process(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(runtime, "_unwrapped", {})


def test_keyring_file_holds_only_transit_tokens_and_the_pipeline_runs_on_it(monkeypatch, transit_env):
    settings = ingest(monkeypatch, ("healthcare", 12, 5, 1), ("finance", 8, 5, 0))
    text = settings.keyring_path.read_text()
    data = json.loads(text)
    assert data["version"] == 2
    assert data["protection"] == {"backend": "vault-transit", "mount": "transit", "key": "datavault"}
    assert data["master_keys"]["k1"].startswith("vault:v1:") and data["pseudonym_key"].startswith("vault:v1:")
    ring = runtime.keyring_for(settings)
    assert not any(b64 in text for b64 in _b64s(ring))  # no key material on disk
    assert oct(settings.keyring_path.stat().st_mode & 0o777) == "0o600"

    rows = _rows(Vault(settings.postgres_url))
    assert len(rows) == 20 and all(envelope_version(r.envelope) == 2 for r in rows)
    # a new process unwraps the same keys from Vault and opens every record
    _new_process(monkeypatch)
    again = runtime.keyring_for(settings)
    assert again.keys == ring.keys and again.pseudonym_key == ring.pseudonym_key
    assert all(open_record(r, again)["record_id"] == r.record_id for r in rows)

    report = keys_report(settings)
    assert report["protection"]["backend"] == "vault-transit" and report["protection"]["at_rest"] == "wrapped"
    assert report["protection"]["transit_latest_version"] == 1


def test_a_wrapped_key_opens_only_as_the_key_it_was_wrapped_for(monkeypatch, transit_env):
    settings = Settings.from_env()
    runtime.keyring_for(settings)
    data = json.loads(settings.keyring_path.read_text())
    # move the master key's token into the pseudonym key's place: transit's associated data refuses it
    data["pseudonym_key"] = data["master_keys"]["k1"]
    settings.keyring_path.write_text(json.dumps(data))
    _new_process(monkeypatch)
    with pytest.raises(KeyringError, match="could not unwrap.*message authentication failed"):
        runtime.keyring_for(settings)


def test_revoking_the_vault_token_locks_every_record(monkeypatch, transit_env, capsys):
    root = transit_env.client()
    token = root.auth.token.create(policies=["datavault"], ttl="1h")["auth"]["client_token"]
    monkeypatch.setenv("VAULT_TOKEN", token)
    settings = ingest(monkeypatch, ("healthcare", 6, 8, 0))
    rows = _rows(Vault(settings.postgres_url))
    assert rows and open_record(rows[0], runtime.keyring_for(settings))

    root.auth.token.revoke(token)
    _new_process(monkeypatch)
    with pytest.raises(KeyringError, match="permission denied"):
        runtime.keyring_for(settings)
    capsys.readouterr()
    assert main(["keys", "list"]) == 2
    err = capsys.readouterr().err
    assert "Vault transit could not unwrap" in err and "Traceback" not in err


def test_plaintext_keyring_is_refused_until_protected_and_keeps_its_keys(monkeypatch, dv_env, transit_server, capsys):
    settings = ingest(monkeypatch, ("finance", 10, 2, 0))  # a plaintext keyring file, as before this backend
    plain = runtime.keyring_for(settings)
    assert json.loads(settings.keyring_path.read_text())["version"] == 1

    monkeypatch.setenv("DATAVAULT_KEY_BACKEND", "vault-transit")
    monkeypatch.setenv("VAULT_ADDR", transit_server.url)
    monkeypatch.setenv("VAULT_TOKEN", transit_server.token)
    settings = Settings.from_env()
    with pytest.raises(KeyringError, match="keys protect"):
        runtime.keyring_for(settings)

    out = io.StringIO()
    assert keys_protect(settings, out=out) == 0
    result = json.loads(out.getvalue())
    assert result["was"] == "plaintext" and result["key_ids"] == ["k1"] and result["transit_version"] == 1
    text = settings.keyring_path.read_text()
    assert not any(b64 in text for b64 in _b64s(plain))
    _new_process(monkeypatch)
    ring = runtime.keyring_for(settings)
    assert ring.keys == plain.keys and ring.pseudonym_key == plain.pseudonym_key
    assert all(open_record(r, ring) for r in _rows(Vault(settings.postgres_url)))

    # without the backend configured, the protected file is refused by name, not misread
    monkeypatch.setenv("DATAVAULT_KEY_BACKEND", "file")
    with pytest.raises(KeyringError, match="protected by 'vault-transit'"):
        runtime.keyring_for(Settings.from_env())


def test_transit_rotation_then_protect_and_master_rotation_rewrap_under_the_newest_versions(monkeypatch, transit_env):
    settings = ingest(monkeypatch, ("healthcare", 10, 4, 0))
    root = transit_env.client()
    root.secrets.transit.rotate_key("datavault", mount_point="transit")

    out = io.StringIO()
    assert keys_protect(settings, out=out) == 0  # re-wrap under transit v2
    assert json.loads(out.getvalue())["was"] == "vault-transit"
    data = json.loads(settings.keyring_path.read_text())
    assert {token_version(t) for t in (*data["master_keys"].values(), data["pseudonym_key"])} == {2}

    # a new master key: generated here, stored only wrapped under the newest transit version
    assert keys_rotate(settings, progress=False, out=io.StringIO()) == 0
    data = json.loads(settings.keyring_path.read_text())
    assert data["primary"] == "k2" and set(data["master_keys"]) == {"k1", "k2"}
    assert all(token_version(t) == 2 for t in data["master_keys"].values())

    # transit v1 can now be retired in Vault; everything still opens in a new process
    root.secrets.transit.update_key_configuration("datavault", min_decryption_version=2, mount_point="transit")
    _new_process(monkeypatch)
    ring = runtime.keyring_for(settings)
    rows = _rows(Vault(settings.postgres_url))
    assert {r.subject_key.key_id for r in rows} == {"k2"}
    assert all(open_record(r, ring) for r in rows)


def test_keys_from_the_environment_can_be_transit_wrapped(monkeypatch, transit_env):
    plain = Keyring.generate()
    monkeypatch.setenv("DATAVAULT_MASTER_KEYS", f"k1:{base64.b64encode(plain.keys['k1']).decode()}")
    monkeypatch.setenv("DATAVAULT_PSEUDONYM_KEY", base64.b64encode(plain.pseudonym_key).decode())
    out = io.StringIO()
    assert keys_protect(Settings.from_env(), out=out) == 0
    env = json.loads(out.getvalue())["environment"]
    assert env["DATAVAULT_MASTER_KEYS"].startswith("k1:vault:v")
    assert env["DATAVAULT_PSEUDONYM_KEY"].startswith("vault:v")
    assert not any(b64 in json.dumps(env) for b64 in _b64s(plain))

    monkeypatch.setenv("DATAVAULT_MASTER_KEYS", env["DATAVAULT_MASTER_KEYS"])
    monkeypatch.setenv("DATAVAULT_PSEUDONYM_KEY", env["DATAVAULT_PSEUDONYM_KEY"])
    ring = runtime.keyring_for(Settings.from_env())
    assert ring.keys == plain.keys and ring.pseudonym_key == plain.pseudonym_key
    # the same wrapped env without the backend is refused, not taken for base64
    monkeypatch.setenv("DATAVAULT_KEY_BACKEND", "file")
    with pytest.raises(KeyringError, match="wrapped by an outside service"):
        runtime.keyring_for(Settings.from_env())


def test_unreachable_vault_is_a_clear_error(transit_server):
    wrap = TransitKeyWrap("http://127.0.0.1:9", token="s.not-a-real-token")
    with pytest.raises(KeyringError, match="unreachable") as info:
        wrap.wrap("datavault/pseudonym-key", b"k" * 32)
    assert "not-a-real-token" not in repr(wrap) + str(info.value)

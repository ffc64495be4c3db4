"""Signed envelopes: tampered or forged payloads are refused before anything is imported or
unpickled; keys rotate; a project's key is generated once and shared by its processes."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from omniq.exceptions import ConfigError, SignatureError
from omniq.serialization import Keyring, Serializer
from omniq.serialization._keys import _clear_project_cache

RECORDED: list[str] = []


def record(what: str) -> str:
    RECORDED.append(what)
    return what


class Bomb:
    """Unpickling it calls record(): proof that a payload was unpickled."""

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return record, ("unpickled",)


def add(a: int, b: int) -> int:
    return a + b


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Never touch the real ~/.config, and start every test with no key in the environment.
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("OMNIQ_SECRET_KEY", raising=False)
    _clear_project_cache()
    RECORDED.clear()
    yield config
    _clear_project_cache()


@pytest.fixture
def system_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda command: calls.append(command) or 0)
    return calls


KEYRING = Keyring.from_secrets(["the-real-secret"])
SERIALIZER = Serializer(KEYRING)
REFERENCE_PAYLOAD = SERIALIZER.dump_call(add, (1, 2))[1]
DILL_PAYLOAD = SERIALIZER.dump_call(lambda x: x, (Bomb(),))[1]


def key_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


def test_sign_verify_round_trip_and_key_id() -> None:
    assert KEYRING.current_key_id == key_id("the-real-secret")
    assert KEYRING.verify(KEYRING.sign(b"body")) == b"body"
    version, kid, mac, body = msgspec.msgpack.decode(KEYRING.sign(b"body"))
    assert (version, kid, body) == (1, KEYRING.current_key_id, b"body")
    assert len(mac) == 32
    assert "the-real-secret" not in repr(KEYRING)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), dill=st.booleans())
def test_any_flipped_bit_is_refused(data: st.DataObject, dill: bool) -> None:
    payload = bytearray(DILL_PAYLOAD if dill else REFERENCE_PAYLOAD)
    index = data.draw(st.integers(0, len(payload) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    payload[index] ^= 1 << bit
    with pytest.raises(SignatureError):
        SERIALIZER.load_call(bytes(payload))
    assert RECORDED == []


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        None,
        b"\x00",
        REFERENCE_PAYLOAD[:-1],
        REFERENCE_PAYLOAD + b"\x00",
        msgspec.msgpack.encode(["c", "os:system", ["echo hi"], {}, None, None]),
    ],
    ids=["empty", "none", "garbage", "truncated", "extended", "bare-body"],
)
def test_malformed_or_missing_envelope_is_refused(payload: Any) -> None:
    with pytest.raises(SignatureError):
        SERIALIZER.load_call(payload)
    with pytest.raises(SignatureError):
        SERIALIZER.load_value(payload)


def _os_system_body() -> bytes:
    return msgspec.msgpack.encode(["c", "os:system", ["touch /tmp/pwned"], {}, None, None])


def test_forged_os_system_call_never_runs(system_calls: list[Any]) -> None:
    body = _os_system_body()
    # Control: signed with the real key, this body really resolves to os.system.
    genuine = SERIALIZER.load_call(KEYRING.sign(body))
    genuine.func(*genuine.args)
    assert system_calls == ["touch /tmp/pwned"]
    system_calls.clear()

    other = Keyring.from_secrets(["attacker-secret"])
    forgeries = {
        "no-key-wrong-mac": msgspec.msgpack.encode([1, KEYRING.current_key_id, b"\0" * 32, body]),
        "other-key": other.sign(body),
        "other-key-claiming-real-id": Keyring(
            {KEYRING.current_key_id: b"attacker"}, KEYRING.current_key_id
        ).sign(body),
    }
    for label, forged in forgeries.items():
        with pytest.raises(SignatureError) as info:
            call = SERIALIZER.load_call(forged)
            call.func(*call.args)
        if label == "other-key":
            assert "OMNIQ_SECRET_KEY" in str(info.value)
    assert system_calls == []


def test_forged_reference_is_not_even_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Importing this module would record: refusing must happen before any import.
    (tmp_path / "omniq_trap_module.py").write_text(
        "import test_signing\ntest_signing.record('imported')\ndef run():\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "test_signing", sys.modules[__name__])
    body = msgspec.msgpack.encode(["c", "omniq_trap_module:run", [], {}, None, None])
    with pytest.raises(SignatureError):
        SERIALIZER.load_call(Keyring.from_secrets(["attacker"]).sign(body))
    assert "omniq_trap_module" not in sys.modules and RECORDED == []
    # Control: with the real key the module is imported (and records).
    SERIALIZER.load_call(KEYRING.sign(body))
    assert RECORDED == ["imported"]
    monkeypatch.delitem(sys.modules, "omniq_trap_module")


def test_dill_payload_with_wrong_key_is_refused_before_unpickling() -> None:
    forger = Serializer(Keyring.from_secrets(["wrong-key"]))
    forged_value = forger.dump_value(Bomb())
    forged_call = forger.dump_call(add, (Bomb(), 1))[1]
    with pytest.raises(SignatureError):
        SERIALIZER.load_value(forged_value)
    with pytest.raises(SignatureError):
        SERIALIZER.load_call(forged_call)
    assert RECORDED == []
    # Control: the same bytes signed with the right key do unpickle the bomb.
    SERIALIZER.load_value(KEYRING.sign(forger.keyring.verify(forged_value)))
    assert RECORDED == ["unpickled"]


def test_a_payload_bound_to_other_fields_is_refused_before_unpickling() -> None:
    signed = ["task-1", "default", None, 0, 0.0, [], None, True, None, None]
    payload = SERIALIZER.dump_call(add, (Bomb(), 1), binding=signed)[1]
    with pytest.raises(SignatureError, match=r"id \(signed 'task-1', stored 'task-2'\)"):
        SERIALIZER.load_call(payload, ["task-2", *signed[1:]])
    assert RECORDED == []
    # Rebinding (how a schedule's call becomes each fire's) re-signs without unpickling.
    rebound = SERIALIZER.rebind(payload, ["task-2", *signed[1:]])
    assert RECORDED == []
    SERIALIZER.load_call(rebound, ["task-2", *signed[1:]])
    assert RECORDED == ["unpickled"]


def test_rotation_old_payloads_verify_with_new_and_old() -> None:
    old = Serializer(Keyring.from_secrets(["old-secret"]))
    payload = old.dump_call(add, (2, 3))[1]
    rotated = Serializer(Keyring.from_secrets(["new-secret", "old-secret"]))
    call = rotated.load_call(payload)
    assert call.func(*call.args) == 5
    # The rotated ring signs with the new key, which the old ring does not know.
    new_payload = rotated.dump_call(add, (1, 1))[1]
    assert msgspec.msgpack.decode(new_payload)[1] == key_id("new-secret")
    assert rotated.keyring.key_ids == (key_id("new-secret"), key_id("old-secret"))
    with pytest.raises(SignatureError, match="OMNIQ_SECRET_KEY"):
        old.load_call(new_payload)
    with pytest.raises(SignatureError, match=key_id("old-secret")):
        Serializer(Keyring.from_secrets(["new-secret"])).load_call(payload)


def test_keyring_rejects_bad_keys() -> None:
    with pytest.raises(ConfigError):
        Keyring({}, "x")
    with pytest.raises(ConfigError):
        Keyring({"a": b"secret"}, "b")
    with pytest.raises(ConfigError):
        Keyring({"a": b""}, "a")
    with pytest.raises(ConfigError):
        Keyring.from_secrets([])
    with pytest.raises(ConfigError):
        Keyring.from_secrets(["ok", ""])


def _key_file(config: Path, project: str) -> Path:
    return config / "omniq" / "keys" / f"{project}.key"


_CHILD = textwrap.dedent("""
    import sys
    from omniq.serialization import Keyring
    ring = Keyring.for_project(sys.argv[1])
    print(ring.current_key_id, ring.sign(b"from child").hex())
""")


def _child_env(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMNIQ_SECRET_KEY"}
    env["XDG_CONFIG_HOME"] = str(config)
    return env


def test_for_project_generates_one_key_and_shares_it(isolated_home: Path) -> None:
    path = _key_file(isolated_home, "shop")
    assert not path.exists()
    first = Keyring.for_project("shop")
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.for_project("shop") is first  # cached in-process
    _clear_project_cache()
    again = Keyring.for_project("shop")
    assert again is not first and again.current_key_id == first.current_key_id
    assert again.verify(first.sign(b"x")) == b"x"
    # The file holds a secret usable as OMNIQ_SECRET_KEY on another machine.
    assert Keyring.from_secrets([path.read_text().strip()]).current_key_id == first.current_key_id

    out = subprocess.run(
        [sys.executable, "-c", _CHILD, "shop"],
        env=_child_env(isolated_home),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert out[0] == first.current_key_id
    assert first.verify(bytes.fromhex(out[1])) == b"from child"
    # Another project gets another key.
    assert Keyring.for_project("other").current_key_id != first.current_key_id


def test_processes_starting_together_agree_on_one_key(isolated_home: Path) -> None:
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, "race"],
            env=_child_env(isolated_home),
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [child.communicate(timeout=60)[0].split() for child in children]
    assert all(child.returncode == 0 for child in children)
    ring = Keyring.for_project("race")
    assert {out[0] for out in outputs} == {ring.current_key_id}
    for out in outputs:
        assert ring.verify(bytes.fromhex(out[1])) == b"from child"
    assert sorted(p.name for p in _key_file(isolated_home, "race").parent.iterdir()) == [
        "race.key"
    ]  # no temporary files left behind


def test_environment_key_wins_over_the_key_file(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = Keyring.for_project("shop")
    monkeypatch.setenv("OMNIQ_SECRET_KEY", "new-secret, old-secret")
    ring = Keyring.for_project("shop")
    assert ring.key_ids == (key_id("new-secret"), key_id("old-secret"))
    assert generated.current_key_id not in ring.key_ids
    # The argument wins over the environment.
    assert Keyring.for_project("shop", "explicit").key_ids == (key_id("explicit"),)
    # With the environment set, no key file is created for a new project.
    Keyring.for_project("fresh")
    assert not _key_file(isolated_home, "fresh").exists()


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 200, "semi;colon"])
def test_for_project_rejects_unsafe_project_names(name: str, isolated_home: Path) -> None:
    with pytest.raises(ConfigError, match="project"):
        Keyring.for_project(name)
    assert not isolated_home.exists()


def test_empty_key_file_is_a_clear_error(isolated_home: Path) -> None:
    path = _key_file(isolated_home, "shop")
    path.parent.mkdir(parents=True)
    path.write_text("  \n")
    with pytest.raises(ConfigError, match="OMNIQ_SECRET_KEY"):
        Keyring.for_project("shop")


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    secrets=st.lists(st.text(min_size=1) | st.binary(min_size=1), min_size=1, max_size=4),
    body=st.binary(),
)
def test_any_key_of_the_ring_verifies(secrets: list[str | bytes], body: bytes) -> None:
    envelopes = [Keyring.from_secrets([secret]).sign(body) for secret in secrets]
    ring = Keyring.from_secrets(secrets)
    for envelope in envelopes:
        assert ring.verify(envelope) == body


def test_losing_the_creation_race_uses_the_winners_key(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omniq.serialization import _keys

    path = _key_file(isolated_home, "shop")
    real_read = _keys._read_key_file
    reads: list[Path] = []

    def read_after_a_rival_wins(p: Path) -> str:
        # The first look finds no file; by then a rival process has published its key.
        reads.append(p)
        if len(reads) == 1:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("winner-secret\n")
            raise FileNotFoundError(p)
        return real_read(p)

    monkeypatch.setattr(_keys, "_read_key_file", read_after_a_rival_wins)
    ring = Keyring.for_project("shop")
    assert ring.key_ids == (key_id("winner-secret"),)
    assert path.read_text() == "winner-secret\n"
    assert [p.name for p in path.parent.iterdir()] == ["shop.key"]

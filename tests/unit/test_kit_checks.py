"""Startup-kit checks on REAL kits: NVFlare provisions a project once (``nvflare poc prepare``, no server started), and
each test copies its admin kit and breaks one thing. ``fj.check_kit`` must name the problem in its row, and
``fj.connect`` must refuse the kit in one line before any network call: every copy points at a port nothing listens
on, so a kit that got past the checks would fail with a connection error instead. The private key's text never
shows in a report, an error or a log.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from IPython.core.error import UsageError
from packaging.version import Version

import flare_jupyter as fj
from flare_jupyter import compat
from flare_jupyter.poc import PocSystem, free_ports

kit_module = importlib.import_module("flare_jupyter.kit")

FIX = "re-provision this admin's kit (or copy its complete startup folder again)"
CHECKS = [
    "kit folder",
    "fed_admin.json",
    "client.crt",
    "client.key",
    "rootCA.pem",
    "identity: name",
    "identity: org",
    "identity: role",
    "certificate validity",
    "root CA validity",
    "signed by root CA",
    "key matches certificate",
    "key permissions",
]
UTC = dt.timezone.utc


# -- real kits ---------------------------------------------------------------------------------------------------------
def provision(folder: Path) -> PocSystem:
    """A real NVFlare project (server, site-1, site-2, admin@nvidia.com), provisioned but never started."""
    system = PocSystem(folder, 2, *free_ports(2))
    system.prepare()
    return system


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> PocSystem:
    return provision(tmp_path_factory.mktemp("kit-project"))


@pytest.fixture(scope="session")
def other_project(tmp_path_factory) -> PocSystem:
    """A second provisioning of a project with the same name: its root CA has the same name but another key."""
    return provision(tmp_path_factory.mktemp("kit-other-project"))


@pytest.fixture
def unused_port() -> int:
    return free_ports(1)[0]


@pytest.fixture
def copy_kit(project, tmp_path, unused_port):
    """``copy_kit(name="admin")``: a copy of the project's admin kit whose server is a port nothing listens on."""

    def make(name: str = "admin") -> Path:
        kit = tmp_path / name
        shutil.copytree(project.kit, kit)
        config = json.loads((kit / "startup" / "fed_admin.json").read_text())
        config["admin"]["port"] = unused_port
        (kit / "startup" / "fed_admin.json").write_text(json.dumps(config, indent=2))
        return kit

    return make


@pytest.fixture
def kit(copy_kit) -> Path:
    return copy_kit()


@pytest.fixture(autouse=True)
def no_session_or_embedded_system(monkeypatch):
    """No kernel session before or after, no embedded system, no FLARE_STARTUP_KIT: each test sets what it needs."""
    fj.disconnect()
    monkeypatch.setattr(fj.poc, "_current", None)
    monkeypatch.delenv("FLARE_STARTUP_KIT", raising=False)
    yield
    fj.disconnect()


def row(report: pd.DataFrame, check: str) -> dict:
    rows = report[report["check"] == check]
    assert len(rows) == 1, f"{check!r} not reported once: {list(report['check'])}"
    return rows.iloc[0].to_dict()


def problems(report: pd.DataFrame) -> list[tuple[str, str]]:
    return [(r.check, r.level) for r in report.itertuples() if not r.ok]


def refused(kit: Path, secure: bool = True) -> str:
    """The one line ``fj.connect`` refuses the kit with (a kit error, never a connection error)."""
    with pytest.raises(fj.FlareError) as caught:
        fj.connect(str(kit), secure=secure, timeout=1)
    assert type(caught.value) is fj.FlareError, f"not a kit error: {caught.value!r}"
    line = str(caught.value)
    assert "\n" not in line and caught.value._render_traceback_() == [f"FlareError: {line}"]
    assert fj.current() is None
    return line


# -- certificates made for a test (signed by a test CA whose certificate becomes the kit's rootCA.pem) -----------------
def name(cn: str, org: str | None = None, role: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)] if org else []
    attrs += [x509.NameAttribute(NameOID.UNSTRUCTURED_NAME, role)] if role else []
    return x509.Name(attrs)


def certificate(subject, issuer, public_key, signing_key, start, end, ca=False, key_usage=True) -> x509.Certificate:
    """A certificate with the extensions NVFlare's provisioning gives its own (a CA's key usage can be left out)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if ca and key_usage:
        usage = x509.KeyUsage(
            digital_signature=True,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=True,
            crl_sign=True,
            encipher_only=False,
            decipher_only=False,
        )
        builder = builder.add_extension(usage, critical=True)
    if not ca:
        cn = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def make_ca(cn: str = "test-ca", start_days: float = -1, end_days: float = 365, key_usage: bool = True):
    key = ec.generate_private_key(ec.SECP256R1())
    start, end = days(start_days), days(end_days)
    return key, certificate(name(cn), name(cn), key.public_key(), key, start, end, ca=True, key_usage=key_usage)


def pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    return obj.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def install_admin_credentials(kit: Path, start: dt.datetime, end: dt.datetime, ca=None) -> bytes:
    """Give the kit a new admin certificate valid from ``start`` to ``end``, its key, and the CA that signed it;
    returns the new key's PEM."""
    ca_key, ca_cert = ca or make_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name("admin@nvidia.com", "nvidia", "project_admin")
    cert = certificate(subject, ca_cert.subject, key.public_key(), ca_key, start, end)
    startup = kit / "startup"
    (startup / "rootCA.pem").write_bytes(pem(ca_cert))
    (startup / "client.crt").write_bytes(pem(cert))
    (startup / "client.key").write_bytes(pem(key))
    (startup / "client.key").chmod(0o600)
    return pem(key)


def days(n: float) -> dt.datetime:
    return dt.datetime.now(UTC) + dt.timedelta(days=n)


# -- a real kit --------------------------------------------------------------------------------------------------------
def test_a_provisioned_kit_passes_every_check(project):
    report = fj.check_kit(project.kit)
    assert list(report.columns) == ["check", "ok", "level", "detail"]
    assert list(report["check"]) == CHECKS
    assert report["ok"].all() and set(report["level"]) == {"ok"}
    assert str(report["check"].dtype) == "string" and str(report["detail"].dtype) == "string"
    assert report["ok"].dtype == bool
    assert list(report["level"].cat.categories) == ["ok", "warning", "error"]
    assert row(report, "identity: name")["detail"] == "admin@nvidia.com"
    assert row(report, "identity: org")["detail"] == "nvidia"
    assert row(report, "identity: role")["detail"] == "project_admin"
    assert row(report, "fed_admin.json")["detail"] == f"server localhost:{project.admin_port}, connection mtls"
    assert row(report, "signed by root CA")["detail"] == "client.crt is signed by rootCA.pem (CN=fjpoc)"
    assert row(report, "key permissions")["detail"] == "client.key is private to its owner (mode 0600)"
    assert "days left" in row(report, "certificate validity")["detail"]
    assert row(report, "kit folder")["detail"] == str(Path(project.kit).resolve())


def test_the_startup_folder_or_a_tilde_path_is_the_same_kit(project, monkeypatch):
    expected = fj.check_kit(project.kit)
    pd.testing.assert_frame_equal(fj.check_kit(Path(project.kit) / "startup"), expected)
    monkeypatch.setenv("HOME", str(Path(project.kit).parent))
    pd.testing.assert_frame_equal(fj.check_kit("~/admin@nvidia.com"), expected)


def test_without_a_path_the_kit_comes_from_the_environment_or_the_embedded_system(project, monkeypatch):
    no_kit = r"no startup kit given: pass the admin kit folder \(fj.connect\(KIT\)\), set FLARE_STARTUP_KIT"
    with pytest.raises(fj.FlareError, match=no_kit):
        fj.check_kit()
    monkeypatch.setenv("FLARE_STARTUP_KIT", project.kit)
    pd.testing.assert_frame_equal(fj.check_kit(), fj.check_kit(project.kit))
    monkeypatch.delenv("FLARE_STARTUP_KIT")
    monkeypatch.setattr(kit_module, "_embedded_kit", lambda: project.kit)  # what a running fj.poc.start() registers
    pd.testing.assert_frame_equal(fj.check_kit(), fj.check_kit(project.kit))


@pytest.mark.parametrize("where", ["missing", "file"])
def test_a_kit_folder_that_is_not_there_is_one_error_row(tmp_path, where):
    path = tmp_path / "kit"
    if where == "file":
        path.write_text("not a kit")
    report = fj.check_kit(path)
    assert problems(report) == [("kit folder", "error")] and len(report) == 1
    what = "does not exist" if where == "missing" else "is a file, not a folder"
    assert report["detail"][0] == f"{path} {what}: give the admin kit folder that holds startup/"


# -- missing files -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("file", ["client.crt", "client.key", "rootCA.pem"])
def test_a_missing_credential_file_is_an_error_and_connect_refuses_the_kit(kit, file):
    (kit / "startup" / file).unlink()
    report = fj.check_kit(kit)
    assert row(report, file) | {"detail": None} == {"check": file, "ok": False, "level": "error", "detail": None}
    detail = f"{file} is missing ({kit / 'startup' / file}): {FIX}"
    assert row(report, file)["detail"] == detail
    assert [c for c, level in problems(report) if level == "error"] == [file]
    assert refused(kit) == f"startup kit {kit}: {detail}"


def test_checks_that_need_a_missing_file_are_left_out(kit):
    (kit / "startup" / "client.crt").unlink()
    checks = list(fj.check_kit(kit)["check"])
    assert "identity: name" not in checks and "signed by root CA" not in checks
    assert "key matches certificate" not in checks and "root CA validity" in checks


def test_a_missing_fed_admin_json_is_an_error_and_connect_says_it_is_not_a_kit(kit):
    (kit / "startup" / "fed_admin.json").unlink()
    report = fj.check_kit(kit)
    assert problems(report) == [("fed_admin.json", "error")]
    assert row(report, "fed_admin.json")["detail"].startswith(
        f"fed_admin.json is missing ({kit / 'startup' / 'fed_admin.json'}): this is not an admin startup kit"
    )
    assert "is not an admin startup kit: startup/fed_admin.json is missing" in refused(kit)


# -- fed_admin.json ----------------------------------------------------------------------------------------------------
CONFIG_DAMAGE = {
    "not JSON": (lambda c: "{admin: nope", "fed_admin.json is not valid JSON (Expecting property name enclosed"),
    "empty": (lambda c: "", "fed_admin.json is empty"),
    "blank": (lambda c: " \n\t\n", "fed_admin.json is empty"),
    "a list": (lambda c: "[1, 2]", "fed_admin.json has no 'admin' section"),
    "no admin section": (lambda c: json.dumps({"format_version": 1}), "fed_admin.json has no 'admin' section"),
    "admin not a dict": (lambda c: json.dumps({"admin": "x"}), "fed_admin.json has no 'admin' section"),
    "empty admin section": (
        lambda c: json.dumps({"admin": {}}),
        "fed_admin.json lacks admin.download_dir, admin.client_cert, admin.client_key, admin.ca_cert, admin.host, "
        "admin.port",
    ),
    "no port": (lambda c: json.dumps({"admin": drop(c["admin"], "port")}), "fed_admin.json lacks admin.port:"),
    "no client_key": (
        lambda c: json.dumps({"admin": drop(c["admin"], "client_key")}),
        "fed_admin.json lacks admin.client_key:",
    ),
    "port not a number": (
        lambda c: json.dumps({"admin": c["admin"] | {"port": "eighty"}}),
        "fed_admin.json has admin.port 'eighty', which is not a port number",
    ),
    "port out of range": (
        lambda c: json.dumps({"admin": c["admin"] | {"port": 70000}}),
        "fed_admin.json has admin.port 70000, which is not a port number",
    ),
    "not UTF-8": (lambda c: b"\xff\xfe\x00garbage", "fed_admin.json is not valid JSON ("),
}


def drop(d: dict, key: str) -> dict:
    return {k: v for k, v in d.items() if k != key}


@pytest.mark.parametrize("damage", list(CONFIG_DAMAGE))
def test_a_broken_fed_admin_json_is_an_error_and_connect_refuses_the_kit(kit, damage):
    f = kit / "startup" / "fed_admin.json"
    make, says = CONFIG_DAMAGE[damage]
    text = make(json.loads(f.read_text()))
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    report = fj.check_kit(kit)
    assert problems(report) == [("fed_admin.json", "error")], "the certificate checks still run, and pass"
    detail = row(report, "fed_admin.json")["detail"]
    assert detail.startswith(says) and detail.endswith(f": {FIX}")
    assert refused(kit) == f"startup kit {kit}: {detail}"


def test_an_unreadable_fed_admin_json_is_an_error(kit):
    f = kit / "startup" / "fed_admin.json"
    f.unlink()
    f.mkdir()  # reading it fails (as root, permissions cannot make a file unreadable)
    report = fj.check_kit(kit)
    assert row(report, "fed_admin.json")["detail"] == f"fed_admin.json cannot be read (Is a directory): {FIX}"
    assert refused(kit) == f"startup kit {kit}: fed_admin.json cannot be read (Is a directory): {FIX}"


def test_a_kit_of_an_nvflare_25_project_finds_its_server_through_the_overseer_agent(kit):
    f = kit / "startup" / "fed_admin.json"
    admin = drop(drop(json.loads(f.read_text())["admin"], "host"), "port")
    admin["overseer_agent"] = {"path": "DummyOverseerAgent", "args": {"sp_end_point": "localhost:8002:8003"}}
    f.write_text(json.dumps({"admin": admin}))
    report = fj.check_kit(kit)
    assert report["ok"].all()
    assert (
        row(report, "fed_admin.json")["detail"]
        == "server localhost:8002:8003 (from the overseer agent), connection mtls"
    )


# -- the key and the certificate ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("participant, key_file", [("site-1", "client.key"), ("server", "server.key")])
def test_another_participants_key_does_not_match_and_connect_refuses_the_kit(kit, project, participant, key_file):
    shutil.copy(project.prod_dir / participant / "startup" / key_file, kit / "startup" / "client.key")
    report = fj.check_kit(kit)
    assert problems(report) == [("key matches certificate", "error")]
    assert row(report, "key matches certificate")["detail"] == f"client.key does not match client.crt: {FIX}"
    assert refused(kit) == f"startup kit {kit}: client.key does not match client.crt: {FIX}"


def test_another_participants_certificate_from_the_same_ca_validates_but_is_another_identity(kit, project):
    shutil.copy(project.prod_dir / "site-1" / "startup" / "client.crt", kit / "startup" / "client.crt")
    report = fj.check_kit(kit)
    assert row(report, "signed by root CA")["ok"]
    assert [row(report, f"identity: {k}")["detail"] for k in ("name", "org", "role")] == ["site-1", "nvidia", "(none)"]
    assert problems(report) == [("key matches certificate", "error")]
    assert refused(kit) == f"startup kit {kit}: client.key does not match client.crt: {FIX}"


def test_certificate_and_key_of_another_provisioning_are_not_signed_by_the_kits_root_ca(kit, other_project):
    other = Path(other_project.kit) / "startup"
    for f in ("client.crt", "client.key"):
        shutil.copy(other / f, kit / "startup" / f)
    report = fj.check_kit(kit)
    assert problems(report) == [("signed by root CA", "error")]
    detail = (
        "client.crt names rootCA.pem's CA (CN=fjpoc) as its issuer, but that CA did not sign it: "
        f"the files come from different provisionings: {FIX}"
    )
    assert row(report, "signed by root CA")["detail"] == detail
    assert refused(kit) == f"startup kit {kit}: {detail}"


def test_a_root_ca_of_another_name_did_not_issue_the_certificate(kit):
    _, ca_cert = make_ca("another-ca")
    (kit / "startup" / "rootCA.pem").write_bytes(pem(ca_cert))
    report = fj.check_kit(kit)
    assert problems(report) == [("signed by root CA", "error")]
    assert row(report, "signed by root CA")["detail"].startswith(
        "client.crt was issued by CN=fjpoc, not by the kit's root CA rootCA.pem (CN=another-ca): "
    )


@pytest.mark.parametrize(
    "file, content, says",
    [
        (
            "client.crt",
            b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
            "is not a PEM certificate",
        ),
        ("rootCA.pem", b"", "is not a PEM certificate"),
        ("client.key", b"hello", "is not a PEM private key"),
    ],
)
def test_an_unreadable_pem_file_is_an_error(kit, file, content, says):
    (kit / "startup" / file).write_bytes(content)
    report = fj.check_kit(kit)
    assert problems(report) == [(file, "error")]
    assert row(report, file)["detail"] == f"{file} {says}: {FIX}"
    assert refused(kit) == f"startup kit {kit}: {file} {says}: {FIX}"


def test_a_credential_file_that_is_a_folder_cannot_be_read(kit):
    f = kit / "startup" / "client.key"
    f.unlink()
    f.mkdir()
    assert row(fj.check_kit(kit), "client.key")["detail"] == f"client.key cannot be read (Is a directory): {FIX}"


def test_a_key_protected_by_a_passphrase_cannot_be_used(kit):
    f = kit / "startup" / "client.key"
    key = serialization.load_pem_private_key(f.read_bytes(), password=None)
    f.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret passphrase"),
        )
    )
    report = fj.check_kit(kit)
    detail = f"client.key is protected by a passphrase, which NVFlare cannot use: {FIX}"
    assert problems(report) == [("client.key", "error")] and row(report, "client.key")["detail"] == detail


# -- validity ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "start, end, says",
    [
        (
            -400,
            -1,
            r"client\.crt expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC: ask your project admin for a newly provisioned",
        ),
        (
            1,
            365,
            r"client\.crt is not valid yet \(from .+ UTC; now .+ UTC\): check this machine's clock, or re-provision",
        ),
    ],
    ids=["expired", "not-yet-valid"],
)
def test_a_certificate_outside_its_validity_is_an_error_and_connect_refuses_the_kit(kit, start, end, says):
    install_admin_credentials(kit, days(start), days(end))
    report = fj.check_kit(kit)
    assert problems(report) == [("certificate validity", "error")]
    detail = row(report, "certificate validity")["detail"]
    assert re.fullmatch(says + ".*", detail), detail
    assert refused(kit) == f"startup kit {kit}: {detail}"


def test_a_chain_nvflare_would_reject_is_an_error(kit):
    """nvflare 2.9 validates the chain itself before connecting, with the web-PKI rules for the CA."""
    install_admin_credentials(kit, days(-1), days(200), ca=make_ca(key_usage=False))
    report = fj.check_kit(kit)
    assert problems(report) == [("signed by root CA", "error")]
    detail = row(report, "signed by root CA")["detail"]
    assert detail.startswith(
        f"client.crt is signed by rootCA.pem, but nvflare {compat.NVFLARE_VERSION} rejects the chain ("
    )
    assert "2.5.29.15" in detail and detail.endswith(f"): {FIX}")
    assert refused(kit) == f"startup kit {kit}: {detail}"


def test_an_expired_root_ca_is_an_error(kit):
    ca = make_ca(start_days=-400, end_days=-1)
    install_admin_credentials(kit, days(-300), days(100), ca=ca)
    report = fj.check_kit(kit)
    assert problems(report) == [("root CA validity", "error")]
    assert row(report, "root CA validity")["detail"].startswith("rootCA.pem expired on ")


def test_a_kit_with_its_own_valid_certificates_passes(kit):
    install_admin_credentials(kit, days(-1), days(200))
    report = fj.check_kit(kit)
    assert report["ok"].all()
    assert row(report, "client.key")["detail"] == "private key: EC secp256r1 (content not shown)"


def test_a_certificate_expiring_within_30_days_is_a_warning(kit):
    install_admin_credentials(kit, days(-300), days(10.05))
    report = fj.check_kit(kit)
    assert problems(report) == [("certificate validity", "warning")]
    assert row(report, "certificate validity")["detail"].startswith("client.crt expires in 10 days (on ")
    assert row(report, "certificate validity")["detail"].endswith(
        ": ask your project admin for a renewed kit before then"
    )


@pytest.mark.parametrize("mode, who", [(0o644, "group and others"), (0o640, "group"), (0o604, "others")])
def test_a_private_key_others_can_read_is_a_warning_with_the_chmod_to_fix_it(kit, mode, who):
    f = kit / "startup" / "client.key"
    f.chmod(mode)
    report = fj.check_kit(kit)
    assert problems(report) == [("key permissions", "warning")]
    assert (
        row(report, "key permissions")["detail"] == f"client.key is open to {who} (mode {mode:04o}): run chmod 600 {f}"
    )


def test_warnings_do_not_stop_connect_and_are_logged_at_info(kit, unused_port, caplog):
    """The kit passes the checks with two warnings, so connect goes on to the network: to a port nothing listens on."""
    install_admin_credentials(kit, days(-300), days(10.05))
    (kit / "startup" / "client.key").chmod(0o644)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConnectionError) as caught:
        fj.connect(str(kit), timeout=1)
    assert f"cannot reach the FLARE server at localhost:{unused_port}" in str(caught.value)
    infos = [r.getMessage() for r in caplog.records if r.name == "flare_jupyter.kit" and r.levelno == logging.INFO]
    assert len(infos) == 2
    assert infos[0].startswith(f"startup kit {kit}: client.crt expires in 10 days")
    assert infos[1] == f"startup kit {kit}: client.key is open to group and others (mode 0644): run chmod 600 " + str(
        kit / "startup" / "client.key"
    )


def test_the_first_error_is_the_one_connect_names(kit):
    (kit / "startup" / "fed_admin.json").write_text("{}")
    (kit / "startup" / "client.crt").unlink()
    report = fj.check_kit(kit)
    assert [c for c, level in problems(report)] == ["fed_admin.json", "client.crt"]
    assert refused(kit) == f"startup kit {kit}: fed_admin.json has no 'admin' section: {FIX}"


# -- insecure sessions -------------------------------------------------------------------------------------------------
def remove_credentials(kit: Path) -> None:
    for f in ("client.crt", "client.key", "rootCA.pem"):
        (kit / "startup" / f).unlink()


def test_an_insecure_session_on_this_nvflare_still_needs_the_certificate_files(kit):
    """nvflare >= 2.7 authenticates an insecure admin session with the kit's certificate too (it only takes the
    user name from it), so a kit without them is refused for secure=False as well."""
    assert compat.NVFLARE_VERSION >= Version("2.7")
    remove_credentials(kit)
    report = fj.check_kit(kit, secure=False)
    assert problems(report) == [("client.crt", "error"), ("client.key", "error"), ("rootCA.pem", "error")]
    path = kit / "startup" / "client.crt"
    detail = (
        f"client.crt is missing ({path}); nvflare {compat.NVFLARE_VERSION} reads it for insecure sessions too: {FIX}"
    )
    assert row(report, "client.crt")["detail"] == detail
    assert refused(kit, secure=False) == f"startup kit {kit}: {detail}"


def test_up_to_nvflare_26_an_insecure_kit_needs_no_certificate_files(kit, monkeypatch):
    monkeypatch.setattr(compat, "NVFLARE_VERSION", Version("2.5.2"))
    monkeypatch.setattr(compat, "INSECURE_SESSIONS_USE_CERTIFICATES", False)
    remove_credentials(kit)
    f = kit / "startup" / "fed_admin.json"
    admin = json.loads(f.read_text())["admin"]
    f.write_text(json.dumps({"admin": {k: v for k, v in admin.items() if k not in kit_module.CERT_FILES}}))
    report = fj.check_kit(kit, secure=False)
    assert report["ok"].all()
    assert (
        row(report, "client.key")["detail"] == f"absent: not needed for an insecure session ({kit}/startup/client.key)"
    )
    kit_module.ensure_usable(kit, secure=False)  # connect goes on to the network
    assert problems(fj.check_kit(kit)) == [
        ("fed_admin.json", "error"),
        ("client.crt", "error"),
        ("client.key", "error"),
        ("rootCA.pem", "error"),
    ]


def test_an_insecure_session_still_checks_the_certificate_files_that_are_there(kit, project):
    shutil.copy(project.prod_dir / "site-1" / "startup" / "client.key", kit / "startup" / "client.key")
    assert problems(fj.check_kit(kit, secure=False)) == [("key matches certificate", "error")]
    assert refused(kit, secure=False) == f"startup kit {kit}: client.key does not match client.crt: {FIX}"


# -- connect, %flare connect, %flare check_kit -------------------------------------------------------------------------
def test_a_refused_kit_leaves_the_previous_session_working(kit, project, recorded):
    before = fj.session()
    shutil.copy(project.prod_dir / "site-2" / "startup" / "client.key", kit / "startup" / "client.key")
    with pytest.raises(fj.FlareError, match="client.key does not match client.crt"):
        fj.connect(str(kit))
    assert fj.session() is before and not before.closed
    assert len(before.list_jobs()) == 2


def test_percent_flare_connect_refuses_a_broken_kit_in_one_line(kit, project, cell):
    shutil.copy(project.prod_dir / "server" / "startup" / "server.key", kit / "startup" / "client.key")
    result, seen = cell(f"%flare connect {kit} --timeout 1")
    assert isinstance(result.error_in_exec, UsageError)
    assert seen.strip().splitlines() == [f"UsageError: startup kit {kit}: client.key does not match client.crt: {FIX}"]


def test_percent_flare_check_kit_is_fj_check_kit(flare, kit, ip):
    (kit / "startup" / "client.key").chmod(0o644)
    pd.testing.assert_frame_equal(flare(f"check_kit {kit}"), fj.check_kit(kit))
    pd.testing.assert_frame_equal(flare(f"check_kit {kit} --insecure"), fj.check_kit(kit, secure=False))
    try:
        df = flare(f"check_kit '{kit}' -o kit_report")
        assert ip.user_ns["kit_report"] is df
    finally:
        ip.user_ns.pop("kit_report", None)


def test_percent_flare_check_kit_without_a_kit(flare, kit, monkeypatch):
    with pytest.raises(UsageError, match="no startup kit given"):
        flare("check_kit")
    monkeypatch.setenv("FLARE_STARTUP_KIT", str(kit))
    pd.testing.assert_frame_equal(flare("check_kit"), fj.check_kit(kit))


def test_check_kit_is_listed_in_help(flare):
    assert "check_kit" in flare("help")
    assert "--insecure" in flare("help check_kit")


# -- the private key never shows ---------------------------------------------------------------------------------------
def key_lines(pem_bytes: bytes) -> list[str]:
    """The base64 body lines of a PEM key."""
    lines = [line.strip() for line in pem_bytes.decode().splitlines()]
    body = [line for line in lines if line and not line.startswith("-----")]
    assert len(body) >= 3
    return body


def break_nothing(kit, project):
    pass


def foreign_key(kit, project):
    shutil.copy(project.prod_dir / "site-1" / "startup" / "client.key", kit / "startup" / "client.key")


def truncated_key(kit, project):
    f = kit / "startup" / "client.key"
    lines = f.read_bytes().splitlines(keepends=True)
    f.write_bytes(b"".join(lines[: len(lines) // 2]))


def key_as_certificate(kit, project):
    (kit / "startup" / "client.crt").write_bytes((kit / "startup" / "client.key").read_bytes())


def key_as_config(kit, project):
    (kit / "startup" / "fed_admin.json").write_bytes((kit / "startup" / "client.key").read_bytes())


def open_key(kit, project):
    (kit / "startup" / "client.key").chmod(0o644)


@pytest.mark.parametrize(
    "damage", [break_nothing, foreign_key, truncated_key, key_as_certificate, key_as_config, open_key]
)
def test_the_private_key_never_shows_in_reports_errors_or_logs(kit, project, damage, caplog, flare):
    secrets = key_lines((kit / "startup" / "client.key").read_bytes())
    secrets += key_lines((project.prod_dir / "site-1" / "startup" / "client.key").read_bytes())
    damage(kit, project)
    caplog.set_level(logging.DEBUG)
    report = fj.check_kit(kit)
    shown = [report.to_string(), repr(report), report._repr_html_(), flare(f"check_kit {kit}").to_string()]
    if not report["level"].eq("error").any():
        kit_module.ensure_usable(kit)
    else:
        shown.append(refused(kit))
        try:
            flare(f"connect {kit}")
        except UsageError as e:
            shown.append(str(e))
    shown.append(caplog.text)
    for text in shown:
        for line in secrets:
            assert line not in text

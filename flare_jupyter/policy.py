"""Who the connected user is, and what NVFlare's authorization policy lets them do to a job or a site.

**Identity** is the common name, organisation and role in the session's own kit certificate (``client.crt``):
exactly what the server takes from it at login; the server keeps no list of users. Only the session's own kit is
read, and only its certificate (never a key, never another user's kit).

**Rules** come from one of two places, in this order:

1. *The system's policy*, where the session's kit belongs to a system whose sites' kits are on this machine (the
   embedded one registers itself with ``know_system``): each site's ``local/authorization.json``, else its
   ``authorization.json.default``, read once when the system started (as NVFlare's sites do) and evaluated with
   NVFlare's own authorizer (``FLAuthorizer``), as that site evaluates it: the server for job commands and its own
   operations, each addressed client for its operations, each with its own organisation.
2. *Learned*: for any other system nothing is known before the server answers. The first refusal is remembered per
   identity, right and job owner (the job's submitter; for a site's operations the site), and answers later
   questions about the same; anything else is "not known" and the server decides.

A refusal (``refusal``) is read from NVFlare's ``AuthorizationError`` and worded by ``errors.describe`` through
``Refusal``: who may not do what, what the policy allows instead (the system's policy when known, else NVFlare's
default policy, said to be the default).

This module sits below ``errors`` (which words refusals with it) and imports only ``compat`` and NVFlare's
authorizer.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from nvflare.fuel.sec.authz import AuthzContext, Person, parse_policy_config
from nvflare.security.security import COMMAND_CATEGORIES, FLAuthorizer

from . import compat

PROJECT_ADMIN = "project_admin"
#: Who checks an operation's right: the server (with its organisation), the site the operation addresses (the
#: server checks its own), both (the server first), or nobody but the role check NVFlare makes for project admins.
SERVER, TARGET, BOTH, ADMIN_ONLY = "server", "target", "both", "admin only"

#: Each session operation: the right NVFlare checks (the admin command's name) and who checks it.
OPERATIONS = {
    "submit_job": ("submit_job", SERVER),
    "list_jobs": ("list_jobs", SERVER),
    "get_job_meta": ("get_job_meta", SERVER),
    "get_job_status": ("get_job_meta", SERVER),
    "abort_job": ("abort_job", SERVER),
    "delete_job": ("delete_job", SERVER),
    "clone_job": ("clone_job", SERVER),
    "download_job_result": ("download_job", SERVER),
    "list_job_components": ("list_job", SERVER),
    "download_job_components": ("download_job_components", SERVER),
    "get_job_logs": ("get_job_log", SERVER),
    "show_stats": ("show_stats", SERVER),
    "show_errors": ("show_errors", SERVER),
    "reset_errors": ("reset_errors", SERVER),
    "do_app_command": ("app_command", SERVER),
    "get_system_info": ("check_status", SERVER),
    "get_connected_client_list": ("check_status", SERVER),
    "get_client_job_status": ("check_status", TARGET),
    "check_status": ("check_status", TARGET),
    "get_client_env": ("report_env", BOTH),
    "report_resources": ("report_resources", TARGET),
    "report_version": ("report_version", TARGET),
    "restart": ("restart", TARGET),
    "shutdown": ("shutdown", TARGET),
    "ls_target": ("ls", TARGET),
    "cat_target": ("cat", TARGET),
    "head_target": ("head", TARGET),
    "tail_target": ("tail", TARGET),
    "grep_target": ("grep", TARGET),
    "get_working_directory": ("pwd", TARGET),
    "shutdown_system": ("admin_check_status", ADMIN_ONLY),
}

#: What a right lets a user do, as the verb of "X may not ...": the object (a job, a site) follows.
VERBS = {
    "submit_job": "submit jobs",
    "list_jobs": "list jobs",
    "get_job_meta": "read the meta of",
    "abort_job": "abort",
    "abort": "abort",
    "delete_job": "delete",
    "delete_workspace": "delete the workspace of",
    "configure_job_log": "configure the log of",
    "clone_job": "clone",
    "download_job": "download the result of",
    "download_job_file": "download the result of",
    "list_job": "list the components of",
    "download_job_components": "download the components of",
    "get_job_log": "read the log of",
    "show_stats": "read the stats of",
    "show_errors": "read the errors of",
    "reset_errors": "reset the errors of",
    "app_command": "send app commands to",
    "check_status": "check the status of",
    "sys_info": "read the system info of",
    "report_resources": "read the resources of",
    "report_env": "read the environment of",
    "report_version": "read the NVFlare version of",
    "restart": "restart",
    "shutdown": "shut down",
    "remove_client": "remove",
    "disable_client": "disable",
    "enable_client": "enable",
    "ls": "list the files of",
    "cat": "read files on",
    "head": "read files on",
    "tail": "read files on",
    "grep": "search files on",
    "pwd": "read the working directory of",
    "admin_check_status": "run project-admin commands on",
}
#: How a role's entry in the policy file (a category or a right) reads in "a lead may ...".
ENTRY_VERBS = {
    "submit_job": "submit",
    "clone_job": "clone",
    "manage_job": "manage (abort, delete)",
    "download_job": "download",
    "view": "view",
    "operate": "operate",
    "shell_commands": "run shell commands on",
}
JOB_ENTRIES = {"submit_job", "clone_job", "manage_job", "download_job"}
#: The rights of commands on one job (NVFlare loads the job and checks its submitter).
JOB_RIGHTS = {
    "get_job_meta",
    "abort_job",
    "delete_job",
    "clone_job",
    "download_job",
    "download_job_file",
    "list_job",
    "download_job_components",
    "get_job_log",
    "show_stats",
    "show_errors",
    "reset_errors",
    "app_command",
    "configure_job_log",
}
SITE_ENTRIES = {"operate", "shell_commands"}
#: A refusal a client sends back inside a result instead of raising (restart, report_env, report_resources ...).
REFUSED_IN_RESULT = re.compile(r"user '(?P<user>.+)' is not authorized for '(?P<right>[^']+)'")
_ACTION = re.compile(r"user not authorized for the action '(?P<rest>.*)'\s*$", re.DOTALL)


@dataclass(frozen=True)
class Identity:
    """A user as the server knows them: the certificate's common name, organisation and role."""

    name: str
    org: str = ""
    role: str = ""

    def __str__(self) -> str:
        details = ", ".join(v for v in (self.role, self.org) if v)
        return f"{self.name} ({details})" if details else self.name


def certificate_identity(cert: x509.Certificate) -> dict:
    """CN, O and the role NVFlare's provisioning puts in an admin certificate's subject (as UNSTRUCTURED_NAME)."""

    def first(oid):
        values = cert.subject.get_attributes_for_oid(oid)
        return values[0].value if values else None

    return {
        "name": first(NameOID.COMMON_NAME),
        "org": first(NameOID.ORGANIZATION_NAME),
        "role": first(NameOID.UNSTRUCTURED_NAME),
    }


_identities: dict[tuple, Identity | None] = {}


def identity_of(kit) -> Identity | None:
    """The identity in ``kit``'s certificate (None when it cannot be read); read again only when the file changed."""
    if not kit:
        return None
    crt = Path(kit) / "startup" / "client.crt"
    try:
        key = (str(crt), crt.stat().st_mtime_ns)
    except OSError:
        return None
    if key not in _identities:
        try:
            found = certificate_identity(x509.load_pem_x509_certificate(crt.read_bytes()))
        except (OSError, ValueError):
            found = {}
        _identities[key] = Identity(found["name"], found["org"] or "", found["role"] or "") if found else None
    return _identities[key]


def session_identity(session) -> Identity | None:
    """Who a session acts as: its certificate's identity (secure), None for an insecure session (the server then
    authorizes nothing) or an unreadable kit."""
    if not getattr(session, "secure", True):
        return None
    return identity_of(getattr(session, "kit", None) or getattr(session, "startup_path", None))


# -- rules -----------------------------------------------------------------------------------------------------------
class Rules:
    """One authorization policy (the JSON of ``authorization.json``), evaluated by NVFlare's own authorizer."""

    def __init__(self, config: dict, source: str):
        parsed, error = parse_policy_config(config, COMMAND_CATEGORIES)
        if error:
            raise ValueError(error)
        self.config = config
        self.source = source
        self.role_rights = parsed.role_rights
        self._authorizers: dict[str, FLAuthorizer] = {}

    def allows(self, who: Identity, right: str, site_org: str, submitter: dict | None = None) -> bool:
        """What NVFlare's authorizer answers on a site of ``site_org`` (a job's ``submitter`` from its meta)."""
        if site_org not in self._authorizers:
            self._authorizers[site_org] = FLAuthorizer(site_org, self.config)
        s = submitter or {}
        ctx = AuthzContext(
            right,
            Person(who.name, who.org, who.role),
            Person(s.get("submitter_name", ""), s.get("submitter_org", ""), s.get("submitter_role", "")),
        )
        return self._authorizers[site_org].authorize(ctx)[0]

    def condition(self, role: str, right: str):
        """The role's condition for ``right`` as the file writes it ("any", "n:submitter", ...), or None."""
        rights = self.role_rights.get(_normal(role)) or {}
        return rights.get(_normal(right), rights.get("*"))

    def depends_on(self, role: str, right: str, word: str) -> bool:
        """Whether the role's condition for ``right`` looks at ``word`` ("submitter", "site")."""
        return word in json.dumps(self.condition(role, right))


def _normal(text: str) -> str:
    return " ".join(str(text).lower().split())


_default_rules: Rules | None = None


def default_rules() -> Rules | None:
    """NVFlare's default policy, what provisioning writes on every site (None if it cannot be read)."""
    global _default_rules
    if _default_rules is None:
        try:
            text = compat.default_policy_text()
            _default_rules = Rules(json.loads(text), "NVFlare's default authorization policy") if text else None
        except (ValueError, TypeError):
            _default_rules = None
    return _default_rules


def policy_file(site_folder) -> Path:
    """The policy file a site uses: ``local/authorization.json`` if it exists, else the provisioned default."""
    local = Path(site_folder) / "local"
    own = local / "authorization.json"
    return own if own.is_file() else local / "authorization.json.default"


@dataclass
class System:
    """A FLARE system whose participants' kits are on this machine: the folder holding them, and each site's
    organisation and rules (read once, when it started)."""

    kits: Path
    orgs: dict[str, str]
    rules: dict[str, Rules] = field(default_factory=dict)

    @classmethod
    def read(cls, kits, orgs: dict[str, str]) -> System:
        system = cls(Path(kits).resolve(), dict(orgs))
        for site in orgs:
            f = policy_file(system.kits / site)
            label = "this system's authorization policy" if site == "server" else f"{site}'s authorization policy"
            try:
                system.rules[site] = Rules(json.loads(f.read_text()), label)
            except (OSError, ValueError):
                pass  # a site whose policy cannot be read: its answers are learned, as for a remote system
        return system

    def owns(self, kit) -> bool:
        try:
            return Path(kit).resolve().parent == self.kits
        except (OSError, TypeError, ValueError):
            return False


_systems: list[System] = []
_lock = threading.Lock()


def know_system(kits, orgs: dict[str, str]) -> System:
    """Register a system whose sites' kits are in ``kits`` (``orgs``: each site's organisation, "server"
    included): sessions through a kit in that folder are judged by those sites' own policy files."""
    system = System.read(kits, orgs)
    with _lock:
        _systems[:] = [s for s in _systems if s.kits != system.kits] + [system]
    return system


def forget_system(kits) -> None:
    with _lock:
        _systems[:] = [s for s in _systems if s.kits != Path(kits).resolve()]


def system_of(kit) -> System | None:
    with _lock:
        return next((s for s in _systems if kit and s.owns(kit)), None)


# -- verdicts ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Whether the session may do an operation: ``allowed`` True, False, or None (not known before the server
    answers); ``refusal`` says why not; ``source``: "policy", "learned", "insecure" or "unknown"."""

    allowed: bool | None
    source: str
    refusal: Refusal | None = None


_learned: dict[tuple, Refusal] = {}


def may(session, operation: str, site: str = "server", job: dict | None = None) -> Verdict:
    """Whether ``session`` may do ``operation`` (a session method, see ``OPERATIONS``) on ``site`` or on the job
    whose meta is ``job`` (its ``submitter_*``; None when unknown), under the policy the sites enforce."""
    who = session_identity(session)
    if who is None:
        insecure = not getattr(session, "secure", True)
        return Verdict(True if insecure else None, "insecure" if insecure else "unknown")
    right, where = OPERATIONS.get(operation, (operation, SERVER))
    sites = {SERVER: ["server"], TARGET: [site or "server"], BOTH: ["server", site or "server"]}.get(where, [])
    system = system_of(getattr(session, "kit", None))
    if where == ADMIN_ONLY:
        allowed = who.role == PROJECT_ADMIN
        refusal = None if allowed else Refusal(who, right, operation, site=site, rules=None)
        return Verdict(allowed, "policy", refusal)
    verdicts = [_judge(who, right, operation, checker, site, job, system) for checker in dict.fromkeys(sites)]
    refused = next((v for v in verdicts if v.allowed is False), None)
    if refused is not None:
        return refused
    return verdicts[0] if all(v.allowed for v in verdicts) else Verdict(None, "unknown")


def _judge(who, right, operation, checker: str, site: str, job, system: System | None) -> Verdict:
    """The verdict of one site checking (``checker``, with its organisation and policy) an operation on ``site``."""
    rules = system.rules.get(checker) if system else None
    if rules is None:
        with _lock:
            learned = _learned.get((who, right, _owner(job, site)))
        return Verdict(False, "learned", learned) if learned else Verdict(None, "unknown")
    if job is None and rules.depends_on(who.role, right, "submitter"):
        return Verdict(None, "unknown")  # it depends on whose job it is: ask with the job's meta
    site_org = system.orgs.get(checker, "")
    if rules.allows(who, right, site_org, job):
        return Verdict(True, "policy")
    job_id = (job or {}).get("job_id")
    refusal = Refusal(who, right, operation, job_id, _submitter(job), site, site_org, rules)
    return Verdict(False, "policy", refusal)


def _owner(job: dict | None, site: str | None) -> str:
    """What a learned refusal is remembered for: the job's submitter, else the site."""
    if job is not None:
        return str(job.get("submitter_name") or "")
    return site or ""


def _submitter(job: dict | None) -> dict:
    return {k: job[k] for k in compat.SUBMITTER_KEYS if job and job.get(k)}


def remember(refusal: Refusal) -> None:
    """Keep a refusal the server sent, so ``may`` answers the same question without asking (learned mode)."""
    if refusal.who is None or refusal.operation == "shutdown_system":
        return
    job = refusal.submitter if refusal.job_id else None
    with _lock:
        _learned[(refusal.who, refusal.right, _owner(job, refusal.site))] = refusal


def forget_learned() -> None:
    """Forget every learned refusal (a new policy on the server, or tests)."""
    with _lock:
        _learned.clear()


# -- refusals ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    """One refused operation: who, the right, on what (a job and its submitter, or a site and its organisation),
    and the rules known for it (None: NVFlare's default, which ``allowed`` says it is)."""

    who: Identity | None
    right: str
    operation: str = ""
    job_id: str | None = None
    submitter: dict = field(default_factory=dict)
    site: str | None = None
    site_org: str | None = None
    rules: Rules | None = None
    user: str = ""  # the name the server gave when the certificate could not be read

    def subject(self) -> str:
        return str(self.who) if self.who else (self.user or "you")

    def action(self) -> str:
        """What was refused, in words: "abort job J submitted by X (org)", "restart site-1 (organisation o)"."""
        if self.operation == "shutdown_system":
            return "shut down the whole FLARE system"
        verb = VERBS.get(self.right, f"run {self.right} on")
        if self.job_id:
            return f"{verb} job {self.job_id}{self._by()}"
        if self.right in JOB_RIGHTS:
            return f"{verb} jobs"
        if self.right in ("submit_job", "list_jobs"):
            return verb
        return f"{verb} {self._place()}"

    def _by(self) -> str:
        name, org = self.submitter.get("submitter_name"), self.submitter.get("submitter_org")
        return f" submitted by {name}{f' ({org})' if org else ''}" if name else ""

    def _place(self) -> str:
        if self.site in (None, "", "server"):
            return "the server"
        return "every site" if self.site == "all" else self.site

    def allowed(self) -> str:
        """Who the policy lets do it: "this system's authorization policy lets only a project_admin or ..."."""
        if self.operation == "shutdown_system":
            return "NVFlare lets only a project_admin do that, so nothing was shut down"
        rules = self.rules or default_rules()
        if rules is None:
            return "the server's authorization policy does not allow it"
        groups: dict[str, list[str]] = {}
        for role in rules.config.get("permissions", {}):
            condition = rules.condition(role, self.right)
            for c in condition if isinstance(condition, list) else [condition]:
                words = _condition_words(role, c, self.submitter, self.site_org)
                if words:  # roles under the same condition share its words: "an org_admin or lead of ..."
                    groups.setdefault(words[1] or f"\0{words[0]}", []).append(words[0])
        who = [
            _join([subjects[0], *(s.split(" ", 1)[1] for s in subjects[1:])], "or")
            + (f" {qualifier}" if not qualifier.startswith("\0") else "")
            for qualifier, subjects in groups.items()
        ]
        source = rules.source if self.rules else f"{rules.source} (the server's own may differ)"
        if not who:
            return f"{source} lets no role do that"
        return f"{source} lets only {_join(who, 'or', oxford=any(' or ' in w for w in who))} do that"

    def instead(self) -> str:
        """What the user's role may do, from the same rules ("" when the role is not known)."""
        if self.who is None or not self.who.role:
            return ""
        rules = self.rules or default_rules()
        entries = (rules.config.get("permissions", {}) if rules else {}).get(self.who.role)
        role = _article(self.who.role)
        if entries is None:
            return f"{role} has no rights under it"
        if isinstance(entries, (str, list)):
            return f"{role} may do anything" if entries in ("any", "all") else ""
        return _role_may(role, entries, self.who.org)


def _article(role: str) -> str:
    return ("an " if role[:1].lower() in "aeiou" else "a ") + role


def _condition_words(role: str, condition, submitter: dict, site_org: str | None) -> tuple[str, str] | None:
    """One policy condition of a role as (who, qualifier): ("a lead", ""), ("an org_admin", "of the submitter's
    organisation (nvidia)"), ("the lead who submitted it", "") ...; None for a condition that allows nothing."""
    if not isinstance(condition, str):
        return None
    c = _normal(condition)
    if c in ("none", "no"):
        return None
    if c in ("any", "all"):
        return _article(role), ""
    negated = c.startswith("not ")
    kind, _, value = c.removeprefix("not ").partition(":")
    kind = {"org": "o", "name": "n"}.get(kind, kind)
    if (kind, value) == ("n", "submitter"):
        who, qualifier = f"the {role} who submitted it", ""
    elif (kind, value) == ("o", "submitter"):
        org = submitter.get("submitter_org")
        who, qualifier = _article(role), "of the submitter's organisation" + (f" ({org})" if org else "")
    elif (kind, value) == ("o", "site"):
        who, qualifier = _article(role), "of the site's organisation" + (f" ({site_org})" if site_org else "")
    elif kind == "o":
        who, qualifier = _article(role), f"of organisation {value}"
    elif kind == "n":
        who, qualifier = f"{value} (as {_article(role)})", ""
    else:
        who, qualifier = _article(role), f"({condition})"
    if negated:
        return f"{_article(role)} except {who} {qualifier}".strip(), ""
    return who, qualifier


def _role_may(role: str, entries: dict, org: str) -> str:
    """ "a lead may submit jobs, view jobs and sites, ..." from the role's entries in the policy file."""
    groups: dict[str, list[str]] = {}
    for entry, condition in entries.items():
        verb = ENTRY_VERBS.get(entry)
        c = _normal(condition) if isinstance(condition, str) else ""
        if verb is None or c in ("", "none", "no"):
            continue
        groups.setdefault(_entry_object(entry, c, org), []).append(verb)
    if not groups:
        return f"{role} may do nothing"
    phrases = [f"{_join(verbs, 'and')} {obj}".strip() for obj, verbs in groups.items()]
    only = "only " if len(phrases) == 1 else ""
    return f"{role} may {only}{_join(phrases, 'and', oxford=True)}"


def _entry_object(entry: str, condition: str, org: str) -> str:
    if entry == "view":
        return "jobs and sites"
    if entry in JOB_ENTRIES:
        if entry == "submit_job" and condition in ("any", "all"):
            return "jobs"
        return {
            "any": "any job",
            "all": "any job",
            "n:submitter": "the jobs they submitted",
            "o:submitter": f"jobs submitted by their organisation ({org})",
        }.get(condition, f"jobs ({condition})")
    if entry in SITE_ENTRIES:
        return {
            "any": "any site",
            "all": "any site",
            "o:site": f"sites of their organisation ({org})",
        }.get(condition, f"sites ({condition})")
    return ""


def _join(items: list[str], word: str, oxford: bool = False) -> str:
    """ "a, b or c" (with ``oxford``, "a, b, and c": for items that hold "and" themselves)."""
    items = list(dict.fromkeys(items))
    if len(items) <= 2:
        return (", " if oxford and len(items) == 2 else " ").join([items[0], *(f"{word} {i}" for i in items[1:])])
    return ", ".join(items[:-1]) + ("," if oxford else "") + f" {word} {items[-1]}"


def refusal(exc: BaseException, operation: str = "", job_id: str | None = None, target=None) -> Refusal:
    """The refusal NVFlare's ``AuthorizationError`` says (remembered, see ``remember``). Its message holds the
    refused command, e.g. ``user not authorized for the action 'abort_job J: user 'u' is not authorized for
    'abort_job''`` (a client refusing a shell command leaves out the part after the colon; a project-admin-only
    command leaves it empty)."""
    command, user, right = _read_message(str(exc))
    words = [w for w in _without_tokens(command.split())]
    right = right or (words[0] if words else operation)
    if job_id is None and len(words) > 1 and compat.JOB_ID.fullmatch(words[1]):
        job_id = words[1]
    site = _site(words, target)
    kit = getattr(exc, "startup_path", None)
    who = identity_of(kit)
    system = system_of(kit)
    checker = site if _checked_by_target(right) and site not in (None, "all", "every client") else "server"
    rules = system.rules.get(checker) if system else None
    site_org = system.orgs.get(checker) if system else None
    submitter = {k: getattr(exc, k) for k in compat.SUBMITTER_KEYS if getattr(exc, k, None)}
    found = Refusal(who, right, operation, job_id, submitter, site, site_org, rules, user)
    remember(found)
    return found


def _checked_by_target(right: str) -> bool:
    """Whether a raised refusal of ``right`` came from the addressed site (else from the server, which checks job
    commands, ``report_env`` and its own operations)."""
    return any(r == right and where == TARGET for r, where in OPERATIONS.values())


def _read_message(text: str) -> tuple[str, str, str]:
    """(command, user, right) of NVFlare's refusal message (parts it lacks are '')."""
    m = _ACTION.match(text.strip())
    if not m:
        said = REFUSED_IN_RESULT.search(text)
        return "", (said["user"] if said else ""), (said["right"] if said else "")
    rest = m["rest"]
    command, _, info = rest.partition(": ")
    said = REFUSED_IN_RESULT.search(info)
    return command, (said["user"] if said else ""), (said["right"] if said else "")


def _without_tokens(words: list[str]):
    """A command's words without 2.9's ``--submit-token T`` (nothing of it may reach a message)."""
    skip = False
    for w in words:
        if skip:
            skip = False
        elif w == "--submit-token":
            skip = True
        else:
            yield w


def _site(words: list[str], target) -> str | None:
    """The site a command addresses: ``cat site-1 f``, ``restart client site-1``, ``report_env site-2``."""
    if isinstance(target, str) and target not in ("client",):
        return target
    if len(words) < 2:
        return None
    if words[1] == "client":
        return words[2] if len(words) > 2 else "every client"
    if words[0] in ("submit_job",) or compat.JOB_ID.fullmatch(words[1]):
        return None
    return words[1] if os.sep not in words[1] else None


def client_refusal(exc: BaseException, operation: str = "") -> Refusal | None:
    """Why NVFlare's "failed to shut down all clients" happened, where the addressed clients' own policy says one
    of them refuses the user (the server passes no client's refusal on); None when it does not say so."""
    words = str(getattr(exc, "command", "")).split()
    kit = getattr(exc, "startup_path", None)
    who, system = identity_of(kit), system_of(kit)
    if len(words) < 2 or words[1] not in ("client", "all") or who is None or system is None:
        return None
    for site in words[2:] or [s for s in system.orgs if s != "server"]:
        rules, org = system.rules.get(site), system.orgs.get(site, "")
        if rules is not None and not rules.allows(who, words[0], org):
            found = Refusal(who, words[0], operation, None, {}, site, org, rules)
            remember(found)
            return found
    return None


def refusals_in(result) -> list[tuple[str, str, str]]:
    """(site, user, right) of every refusal a client sent back inside a result instead of raising (NVFlare's
    ``restart``, ``get_client_env``, ``report_resources``, ``report_version``)."""
    found = []

    def walk(value, site):
        if isinstance(value, str):
            m = REFUSED_IN_RESULT.fullmatch(value.strip())
            if m:
                found.append((site, m["user"], m["right"]))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k) if str(k) not in ("client_status", "error") else site)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, site)

    walk(result, "")
    return found


def result_refusal(session, operation: str, site: str, right: str, user: str) -> Refusal:
    """A client's refusal found inside a result (see ``refusals_in``), as a ``Refusal`` (remembered)."""
    who = session_identity(session)
    system = system_of(getattr(session, "kit", None))
    rules = system.rules.get(site) if system else None
    found = Refusal(who, right, operation, None, {}, site, system.orgs.get(site) if system else None, rules, user)
    remember(found)
    return found

"""Configuration, read once from the environment when this module is imported."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

# The development signing key is public on purpose: tokens signed with it are only
# accepted while LOKET_JWT_SECRET is left unset, and `loket dev-token` refuses otherwise.
DEV_JWT_SECRET = "loket-development-signing-key-not-for-production-use-0123456789"  # noqa: S105
DEV_RRN_KEY = "loket-development-rrn-hmac-key-not-for-production-use"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _list(name: str) -> tuple[str, ...]:
    """A comma-separated setting, e.g. `LOKET_CORS_ORIGINS="https://a.be,https://b.be"`."""
    return tuple(item.strip() for item in (_env(name) or "").split(",") if item.strip())


def _rrn_keys() -> dict[str, bytes]:
    """`LOKET_RRN_KEYS="k2:secret2,k1:secret1"`: numbers are hashed under every key, so
    a new key can be added first and an old one dropped once rows are re-hashed."""
    raw = _env("LOKET_RRN_KEYS")
    if raw is None:
        return {"dev1": DEV_RRN_KEY.encode()}
    keys: dict[str, bytes] = {}
    for item in raw.split(","):
        key_id, _, secret = item.strip().partition(":")
        if not key_id or not secret:
            raise ValueError("LOKET_RRN_KEYS must look like 'keyid:secret[,keyid:secret]'")
        keys[key_id] = secret.encode()
    return keys


# The platform's calendar: timestamps become days and months in Belgian time.
TIME_ZONE = "Europe/Brussels"

# Periodic jobs and their default schedules (cron, UTC). `LOKET_JOB_SCHEDULE_<NAME>`
# overrides one (e.g. LOKET_JOB_SCHEDULE_STATISTICS="0 5 * * *"); "off" disables it.
DEFAULT_JOB_SCHEDULES = {
    "emergency_list": "15 1 * * *",
    "retention": "30 2 * * *",
    "statistics": "0 4 * * *",
    "deadline_reminders": "0 7 * * *",
    "notifications": "* * * * *",
    "housekeeping": "45 3 * * *",
    "exports": "* * * * *",
}


def _job_schedules() -> dict[str, str]:
    schedules = {}
    for name, default in DEFAULT_JOB_SCHEDULES.items():
        value = _env(f"LOKET_JOB_SCHEDULE_{name.upper()}", default) or default
        if value.lower() != "off":
            schedules[name] = value
    return schedules


def _smtp_tls() -> str:
    value = (_env("LOKET_SMTP_TLS", "none") or "none").lower()
    if value not in ("none", "starttls", "tls"):
        raise ValueError("LOKET_SMTP_TLS must be none, starttls or tls")
    return value


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    database_url: str | None
    test_database_url: str | None
    data_dir: Path
    jwt_algorithms: tuple[str, ...]
    jwt_secret: str | None
    jwt_public_key_file: str | None
    jwt_jwks_file: str | None
    jwt_private_key_file: str | None
    jwt_issuer: str
    jwt_audience: str
    jwt_ttl_seconds: int
    rrn_keys: dict[str, bytes] = field(repr=False)
    max_chosen_locations: int = 10
    emergency_days: int = 60
    retention_years: int = 5
    graphiql: bool = True
    # Compiled plans for the hot read operations (loket.planner); with `plan_differential`
    # (tests) every planned request is also run through strawberry and compared.
    plans: bool = True
    plan_differential: bool = False
    # Abuse limits: uniqueness checks per account per hour (not an RRN oracle), failed
    # sign-ins per account per 15 minutes.
    uniqueness_checks_per_hour: int = 20
    sign_in_failures_per_window: int = 10
    # Partner invitations and dossier claim codes stay valid this many days.
    invitation_days: int = 14
    password_min_length: int = 12
    # `__schema`/`__type` selections per operation; the size of a GraphQL document (its
    # comments and strings count too: they are kept in the parser cache).
    max_introspections: int = 3
    max_document_bytes: int = 65_536
    # Where clients reach this service (the audience of signed client assertions).
    public_url: str = "http://127.0.0.1:8000"
    # Sign-ups per client IP per hour; token requests per client IP per 15 minutes.
    sign_ups_per_ip_per_hour: int = 20
    token_requests_per_ip: int = 100
    # Breach reports and complaints (fileReport) per client IP and per account per hour.
    reports_per_ip_per_hour: int = 10
    reports_per_account_per_hour: int = 5
    # Applications still pending this many days after they were made are flagged as
    # unanswered (inbox, counter overview); an offer without a deadline gets this many
    # days for the family to reply.
    answer_days: int = 30
    offer_reply_days: int = 14
    # Automatic persisted queries: new documents a client IP may register per hour; the
    # in-process cache of persisted documents (entries); how long an integrator's
    # registered operation is served from that cache before its manifest is checked again
    # (a revoked manifest stops working at most this many seconds later; 0: every request).
    apq_registrations_per_hour: int = 1000
    persisted_cache_size: int = 2048
    persisted_cache_ttl_seconds: float = 30
    # First-party browser sessions (loket.sessions): the cookie's Secure flag (only tests
    # over plain http turn it off); origins allowed to call with credentials (none: no
    # cross-origin access); proxies whose X-Forwarded-For is believed.
    session_cookie_secure: bool = True
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Per client IP, shared by all processes: failed sign-ins per 15 minutes (over all
    # addresses tried) and uniqueness checks per hour (over all accounts).
    sign_in_failures_per_ip: int = 50
    uniqueness_checks_per_ip_per_hour: int = 200

    # Lifetime of the access tokens integrator clients get from /oauth/token.
    integrator_token_ttl_seconds: int = 300

    # Request limits (schema/limits.py, loket/app.py), each also an env var LOKET_MAX_*:
    # nesting depth, aliases, parser tokens and directive uses per operation; the
    # estimated number of objects an operation may fetch, where a list without `first`
    # counts as `max_list_estimate` objects at the root of an operation and as
    # `max_nested_list_estimate` as a field of an object (a household's children);
    # operations per batch; request body bytes.
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 4000
    max_directives: int = 20
    max_cost: int = 50_000
    max_list_estimate: int = 50
    max_nested_list_estimate: int = 10
    max_batch: int = 10
    max_body_bytes: int = 1_000_000

    # Jobs (jobs/): when each periodic job is deferred (cron, UTC; a sixth field is
    # seconds), rows per batch of the set-based jobs.
    job_schedules: dict[str, str] = field(default_factory=dict)
    job_batch_size: int = 5000
    # Notifications (jobs/notifications.py): the SMTP relay (no host: messages wait in
    # the outbox), "none", "starttls" or "tls"; the sender address; attempts before a
    # message is given up; days before an offer's reply deadline that the family is
    # reminded.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_timeout_seconds: float = 30
    mail_from: str = "Loket kinderopvang <noreply@loket.invalid>"
    mail_max_attempts: int = 8
    deadline_reminder_days: int = 3
    # Copies of a dossier (jobs/export.py): a built copy waits this many hours for its
    # download link; a link works once, for this many minutes (and never past that).
    export_ready_hours: int = 72
    export_link_minutes: int = 15

    @property
    def dev_signing(self) -> bool:
        """True when tokens are signed with the public development key."""
        return (
            self.jwt_secret == DEV_JWT_SECRET
            and self.jwt_public_key_file is None
            and self.jwt_jwks_file is None
        )


def load() -> Settings:
    project_dir = Path(__file__).resolve().parent.parent
    public_key = _env("LOKET_JWT_PUBLIC_KEY_FILE")
    jwks = _env("LOKET_JWT_JWKS_FILE")
    asymmetric = public_key is not None or jwks is not None
    default_algorithms = "RS256,ES256" if asymmetric else "HS256"
    return Settings(
        project_dir=project_dir,
        database_url=_env("DATABASE_URL"),
        test_database_url=_env("TEST_DATABASE_URL"),
        data_dir=Path(_env("LOKET_DATA_DIR", str(project_dir / ".loket")) or ""),
        jwt_algorithms=tuple(
            a.strip() for a in (_env("LOKET_JWT_ALGORITHMS", default_algorithms) or "").split(",")
        ),
        jwt_secret=None if asymmetric else _env("LOKET_JWT_SECRET", DEV_JWT_SECRET),
        jwt_public_key_file=public_key,
        jwt_jwks_file=jwks,
        jwt_private_key_file=_env("LOKET_JWT_PRIVATE_KEY_FILE"),
        jwt_issuer=_env("LOKET_JWT_ISSUER", "loket") or "loket",
        jwt_audience=_env("LOKET_JWT_AUDIENCE", "loket-api") or "loket-api",
        jwt_ttl_seconds=int(_env("LOKET_JWT_TTL_SECONDS", "3600") or 3600),
        rrn_keys=_rrn_keys(),
        max_chosen_locations=int(_env("LOKET_MAX_CHOSEN_LOCATIONS", "10") or 10),
        graphiql=(_env("LOKET_GRAPHIQL", "1") == "1"),
        plans=(_env("LOKET_PLANS", "1") == "1"),
        plan_differential=(_env("LOKET_PLAN_DIFFERENTIAL", "0") == "1"),
        uniqueness_checks_per_hour=int(_env("LOKET_UNIQUENESS_CHECKS_PER_HOUR", "20") or 20),
        sign_in_failures_per_window=int(_env("LOKET_SIGN_IN_FAILURES", "10") or 10),
        invitation_days=int(_env("LOKET_INVITATION_DAYS", "14") or 14),
        max_introspections=int(_env("LOKET_MAX_INTROSPECTIONS", "3") or 3),
        max_document_bytes=int(_env("LOKET_MAX_DOCUMENT_BYTES", "65536") or 65536),
        public_url=_env("LOKET_PUBLIC_URL", "http://127.0.0.1:8000") or "http://127.0.0.1:8000",
        sign_ups_per_ip_per_hour=int(_env("LOKET_SIGN_UPS_PER_IP_PER_HOUR", "20") or 20),
        token_requests_per_ip=int(_env("LOKET_TOKEN_REQUESTS_PER_IP", "100") or 100),
        reports_per_ip_per_hour=int(_env("LOKET_REPORTS_PER_IP_PER_HOUR", "10") or 10),
        reports_per_account_per_hour=int(_env("LOKET_REPORTS_PER_ACCOUNT_PER_HOUR", "5") or 5),
        answer_days=int(_env("LOKET_ANSWER_DAYS", "30") or 30),
        offer_reply_days=int(_env("LOKET_OFFER_REPLY_DAYS", "14") or 14),
        # (0 is a meaningful value for these three: no `or default` after the conversion)
        apq_registrations_per_hour=int(_env("LOKET_APQ_REGISTRATIONS_PER_HOUR") or "1000"),
        persisted_cache_size=int(_env("LOKET_PERSISTED_CACHE_SIZE") or "2048"),
        persisted_cache_ttl_seconds=float(_env("LOKET_PERSISTED_CACHE_TTL_SECONDS") or "30"),
        session_cookie_secure=(_env("LOKET_SESSION_COOKIE_SECURE", "1") != "0"),
        cors_origins=_list("LOKET_CORS_ORIGINS"),
        trusted_proxies=tuple(
            ipaddress.ip_network(p, strict=False) for p in _list("LOKET_TRUSTED_PROXIES")
        ),
        sign_in_failures_per_ip=int(_env("LOKET_SIGN_IN_FAILURES_PER_IP", "50") or 50),
        uniqueness_checks_per_ip_per_hour=int(
            _env("LOKET_UNIQUENESS_CHECKS_PER_IP_PER_HOUR", "200") or 200
        ),
        integrator_token_ttl_seconds=int(_env("LOKET_INTEGRATOR_TOKEN_TTL_SECONDS", "300") or 300),
        max_depth=int(_env("LOKET_MAX_DEPTH", "12") or 12),
        max_aliases=int(_env("LOKET_MAX_ALIASES", "30") or 30),
        max_tokens=int(_env("LOKET_MAX_TOKENS", "4000") or 4000),
        max_directives=int(_env("LOKET_MAX_DIRECTIVES", "20") or 20),
        max_cost=int(_env("LOKET_MAX_COST", "50000") or 50000),
        max_list_estimate=int(_env("LOKET_MAX_LIST_ESTIMATE", "50") or 50),
        max_nested_list_estimate=int(_env("LOKET_MAX_NESTED_LIST_ESTIMATE", "10") or 10),
        max_batch=int(_env("LOKET_MAX_BATCH", "10") or 10),
        max_body_bytes=int(_env("LOKET_MAX_BODY_BYTES", "1000000") or 1000000),
        job_schedules=_job_schedules(),
        job_batch_size=int(_env("LOKET_JOB_BATCH_SIZE", "5000") or 5000),
        smtp_host=_env("LOKET_SMTP_HOST"),
        smtp_port=int(_env("LOKET_SMTP_PORT", "25") or 25),
        smtp_tls=_smtp_tls(),
        smtp_username=_env("LOKET_SMTP_USERNAME"),
        smtp_password=_env("LOKET_SMTP_PASSWORD"),
        smtp_timeout_seconds=float(_env("LOKET_SMTP_TIMEOUT_SECONDS") or "30"),
        mail_from=_env("LOKET_MAIL_FROM", "Loket kinderopvang <noreply@loket.invalid>") or "",
        mail_max_attempts=int(_env("LOKET_MAIL_MAX_ATTEMPTS", "8") or 8),
        deadline_reminder_days=int(_env("LOKET_DEADLINE_REMINDER_DAYS", "3") or 3),
        export_ready_hours=int(_env("LOKET_EXPORT_READY_HOURS", "72") or 72),
        export_link_minutes=int(_env("LOKET_EXPORT_LINK_MINUTES", "15") or 15),
    )


settings = load()

"""Alembic, driven from code: upgrade, downgrade, status, drift check, new revisions, offline SQL.

Every function takes the database URL; the caller decides where it comes from. Alembic is
synchronous, so each call borrows one async connection and runs Alembic inside `run_sync`.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import alembic_postgresql_enum  # noqa: F401  (teaches autogenerate about enum value changes)
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, TypeDecorator
from sqlalchemy.engine import URL

from gxcore.db import lint_rules
from gxcore.db.engine import create_engine
from gxcore.errors import MigrationError, UnknownRevision

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    # Only the application schema; other schemas (the reference ledger's) have their own life.
    return getattr(obj, "schema", None) in (None, "public")


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Our TypeDecorators add Python-side rules only; revisions record the plain column type.
    if type_ == "type" and isinstance(obj, TypeDecorator):
        prefix = (
            "postgresql." if type(obj.impl).__module__.startswith("sqlalchemy.dialects") else "sa."
        )
        return prefix + repr(obj.impl)
    return False


def _compare_server_default(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: str | None,
    rendered_metadata_default: str | None,
) -> bool | None:
    # Alembic compares PostgreSQL defaults by evaluating both, and two nextval() calls never
    # agree: compare a sequence default by its text. None: Alembic's own comparison.
    if inspected_default and rendered_metadata_default and "nextval(" in inspected_default:
        return inspected_default.strip("'") != rendered_metadata_default.strip("'")
    return None


def compare_options() -> dict[str, Any]:
    """Options shared by migrations (env.py) and the drift check, so both see the same diff."""
    from gxcore.db.models import metadata

    return {
        "target_metadata": metadata,
        "include_object": _include_object,
        "render_item": _render_item,
        "compare_type": True,
        "compare_server_default": _compare_server_default,
        "transaction_per_migration": True,
    }


#: What every migration run starts with (env.py), so that no statement waits long behind a
#: lock and blocks the queries queued after it. Revisions set lock_timeout again themselves
#: (the template does; `gx db lint` checks it), so a revision's SQL is safe on its own too.
TIMEOUTS = ("SET lock_timeout = '5s'", "SET statement_timeout = '5min'")


def alembic_config(extra_versions: Sequence[Path] = ()) -> Config:
    """Alembic's configuration; `extra_versions`: more revision folders (a scratch revision)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    locations = [MIGRATIONS_DIR / "versions", *extra_versions]
    cfg.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    # Date-and-slug file names keep the history readable in a directory listing.
    cfg.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(hour).2d%%(minute).2d_%%(slug)s"
    )
    cfg.set_main_option("truncate_slug_length", "60")
    return cfg


def script_directory(extra_versions: Sequence[Path] = ()) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(extra_versions))


def head() -> str | None:
    return script_directory().get_current_head()


async def _with_connection(url: str | URL, fn: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            result = await conn.run_sync(fn)
            await conn.commit()
            return result
    finally:
        await engine.dispose()


def _run_command(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[Connection], Any]:
    def run(connection: Connection) -> Any:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        try:
            return fn(cfg, *args, **kwargs)
        except CommandError as e:
            if "Can't locate revision" in str(e):
                raise UnknownRevision(
                    "the database is at a revision this gxcore does not know (it was migrated "
                    "by a newer version); upgrade gxcore before using this database"
                ) from e
            raise MigrationError(str(e)) from e

    return run


async def upgrade(url: str | URL, revision: str = "head", *, role_key: bytes) -> None:
    """Apply revisions up to `revision`, then give the application roles their passwords."""
    from gxcore.db.roles import sync_passwords

    await _with_connection(url, _run_command(command.upgrade, revision))
    await sync_passwords(url, key=role_key)


async def downgrade(url: str | URL, revision: str) -> None:
    await _with_connection(url, _run_command(command.downgrade, revision))


async def new_revision(url: str | URL, message: str) -> Path:
    """Autogenerate a revision from model changes against the database at `url` (must be at head)."""
    script = await _with_connection(
        url, _run_command(command.revision, message=message, autogenerate=True)
    )
    return Path(script.path)


def offline_sql(start: str = "base", end: str = "head", extra_versions: Sequence[Path] = ()) -> str:
    """The SQL the migrations would run, rendered without a database (for review and linting)."""
    cfg = alembic_config(extra_versions)
    buffer = io.StringIO()
    cfg.output_buffer = buffer
    command.upgrade(cfg, f"{start}:{end}", sql=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class Status:
    current: tuple[str, ...]
    head: str | None
    unknown: tuple[str, ...]

    @property
    def pending(self) -> bool:
        return self.current != ((self.head,) if self.head else ())

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.unknown


async def status(url: str | URL) -> Status:
    def read(connection: Connection) -> Status:
        current = tuple(MigrationContext.configure(connection).get_current_heads())
        known = {rev.revision for rev in script_directory().walk_revisions()}
        return Status(current, head(), tuple(r for r in current if r not in known))

    return await _with_connection(url, read)


async def drift(url: str | URL) -> list[Any]:
    """Differences between the models and the database at `url`; empty means no drift."""

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts=compare_options())
        return compare_metadata(context, context.opts["target_metadata"])

    return await _with_connection(url, diff)


@dataclass(frozen=True)
class LintResult:
    ok: bool
    report: str


def lint(
    extra_versions: Sequence[Path] = (), *, revisions: Collection[str] | None = None
) -> LintResult:
    """Render each revision's SQL offline; lint it with squawk and with gxcore's own rules.

    Each revision is judged on its own SQL: env.py's run-wide timeouts are left out, so a
    revision that takes locks must set `lock_timeout` itself (gxcore.db.lint_rules). A revision
    may waive rules (squawk's or gxcore's `gx-...`) for itself with a module-level
    `SQUAWK_IGNORE = {rule: reason}`; the reason stays next to the SQL it excuses. Alembic's own
    `alembic_version` table is not ours to lint and is left out. `revisions`: lint only these.
    """
    findings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gx-lint-") as tmp:
        files = []
        for rev in reversed(list(script_directory(extra_versions).walk_revisions())):
            if revisions is not None and rev.revision not in revisions:
                continue
            start = rev.down_revision or "base"
            if not isinstance(start, str):
                raise MigrationError(
                    f"revision {rev.revision} merges branches: keep history linear"
                )
            sql = _own_sql(offline_sql(start, rev.revision, extra_versions))
            waived = set(getattr(rev.module, "SQUAWK_IGNORE", {}))
            name = f"{Path(rev.path).stem}.sql"
            findings += [f.render(name) for f in lint_rules.check(sql, waived=frozenset(waived))]
            squawk_waived = sorted(waived - lint_rules.RULES)
            if squawk_waived:
                sql = f"-- squawk-ignore-file {', '.join(squawk_waived)}\n{sql}"
            path = Path(tmp) / name
            path.write_text(sql)
            files.append(path)
        squawk = run_squawk(files)
    report = "\n".join([*findings, squawk.report]).strip()
    return LintResult(ok=squawk.ok and not findings, report=report)


def _own_sql(rendered: str) -> str:
    """A revision's rendered SQL without env.py's run-wide prelude or alembic_version's DDL."""
    for statement in TIMEOUTS:
        rendered = rendered.replace(f"{statement};\n\n", "", 1)
    return _ALEMBIC_VERSION_DDL.sub("", rendered)


#: squawk rules gxcore replaces: `require-lock-timeout` by gx-lock-timeout (which also checks
#: the value and its scope); `require-statement-timeout` because env.py sets statement_timeout
#: for the whole run and a long CONCURRENTLY build may rightly raise it.
SQUAWK_EXCLUDED = ("require-lock-timeout", "require-statement-timeout")


def run_squawk(files: list[Path]) -> LintResult:
    binary = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    if not Path(binary).exists():
        raise MigrationError("the squawk linter is not installed (pip install squawk-cli)")
    proc = subprocess.run(
        [
            binary,
            "--reporter",
            "gcc",
            "--pg-version",
            "15",
            "--exclude",
            ",".join(SQUAWK_EXCLUDED),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    report = proc.stdout + proc.stderr
    for file in files:
        report = report.replace(str(file.parent) + "/", "")
    return LintResult(ok=proc.returncode == 0, report=report.strip())


_ALEMBIC_VERSION_DDL = re.compile(r"CREATE TABLE alembic_version \(.*?\);\n", re.DOTALL)

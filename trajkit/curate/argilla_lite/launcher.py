"""Starts argilla-server pieces with trajkit's SQLite search engine registered first.

Run by the Argilla server's own virtual environment (`python launcher.py serve|worker`), not by
trajkit's: import only `argilla_server` and the standard library. `python -m argilla_server`
cannot load an extra search engine, hence this launcher. Configuration comes from the
environment that `trajkit.curate.server` prepares (ARGILLA_HOME_PATH, ARGILLA_REDIS_URL,
ARGILLA_SEARCH_ENGINE); the owner's credentials from `credentials.json` in the home folder.

    serve --host H --port P   migrate the database, make sure the owner exists, run the API + UI
    worker                    run the rq worker for background jobs (record status, hub jobs)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import engine  # noqa: E402,F401  (registers the search engine before the app is built)


def cache_settings_adapters() -> None:
    """Build the pydantic adapters behind `parsed_settings` once, not on every access.

    argilla-server 2.8 creates a new `TypeAdapter` each time a question's or metadata
    property's settings are parsed, which its record validation does for every metadata value
    and suggestion of every record: about 2 ms each, capping bulk upserts near 50 records/s.
    The parsing itself (and so the validation) is unchanged.
    """
    from argilla_server.models import database
    from pydantic import TypeAdapter

    questions = TypeAdapter(database.QuestionSettings)
    metadata = TypeAdapter(database.MetadataPropertySettings)
    database.Question.parsed_settings = property(lambda self: questions.validate_python(self.settings))
    database.MetadataProperty.parsed_settings = property(lambda self: metadata.validate_python(self.settings))


def skip_record_events_without_webhooks() -> None:
    """Build a record's webhook event only when some webhook is enabled.

    argilla-server 2.8 loads the dataset with five relationships and serialises the record for
    every created/updated/completed record before it checks whether any webhook listens, about
    eight SQL round trips per record for nothing on a server without webhooks. The events sent
    when webhooks exist are unchanged.
    """
    from argilla_server.bulk import records_bulk
    from argilla_server.contexts import distribution, webhooks
    from argilla_server.webhooks.v1 import records as record_events

    build_and_notify = record_events.notify_record_event

    async def notify_record_event(db, record_event, record):
        if not await webhooks.list_enabled_webhooks(db):
            return []
        return await build_and_notify(db, record_event, record)

    record_events.notify_record_event = notify_record_event
    records_bulk.notify_record_event_v1 = notify_record_event
    distribution.notify_record_event_v1 = notify_record_event


cache_settings_adapters()
skip_record_events_without_webhooks()


def migrate() -> None:
    from argilla_server.cli.database.migrate import migrate_db

    migrate_db(revision="head")


async def ensure_owner(username: str, password: str, api_key: str) -> None:
    """The owner trajkit prints at start-up; its credentials follow the ones trajkit keeps."""
    from argilla_server.contexts import accounts
    from argilla_server.database import AsyncSessionLocal
    from argilla_server.models import User, UserRole, Workspace

    async with AsyncSessionLocal() as session:
        user = await accounts.get_user_by_username(session, username)
        if user is None:
            workspace = await Workspace.get_by(session, name=username)
            if workspace is None:
                workspace = await accounts.create_workspace(session, {"name": username})
            await User.create(
                session,
                first_name=username,
                username=username,
                role=UserRole.owner,
                api_key=api_key,
                password_hash=accounts.hash_password(password),
                workspaces=[workspace],
            )
            return
        if user.api_key != api_key or not accounts.verify_password(password, user.password_hash):
            user.api_key = api_key
            user.password_hash = accounts.hash_password(password)
            await session.commit()


def serve(host: str, port: int) -> None:
    import json

    import uvicorn

    migrate()
    with open(os.path.join(os.environ["ARGILLA_HOME_PATH"], "credentials.json")) as handle:
        owner = json.load(handle)
    asyncio.run(ensure_owner(owner["username"], owner["password"], owner["api_key"]))
    uvicorn.run("argilla_server:app", host=host, port=port, access_log=False, log_level="warning")


def worker() -> None:
    from argilla_server.cli.worker import worker as run_worker
    from argilla_server.jobs.queues import DEFAULT_QUEUE, HIGH_QUEUE

    run_worker(queues=[HIGH_QUEUE.name, DEFAULT_QUEUE.name], num_workers=1)


def main() -> None:
    parser = argparse.ArgumentParser(prog="launcher.py")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, required=True)
    commands.add_parser("worker")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.host, args.port)
    else:
        worker()


if __name__ == "__main__":
    main()

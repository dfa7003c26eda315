"""Jobs: every piece of work (scan, verify, detect, generate) runs as a job in a bounded
thread pool, recorded in SQLite so that any worker process can report on it.

A synchronous request submits a job and waits for it; an asynchronous one (``?mode=job``)
gets the job id at once and polls ``GET /v1/jobs/{id}``. Finished jobs (and generated files)
are kept ``job_ttl_s`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidprov.api.errors import ApiError, client_gone, error_body

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
SWEEP_EVERY_S = 60.0
PROGRESS_EVERY_S = 0.5  # also how often a worker looks for its queued jobs' cancels

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL, finished REAL,
    pid INTEGER NOT NULL, result TEXT, error TEXT, http_status INTEGER,
    file_path TEXT, file_name TEXT, headers TEXT, cancel INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs(finished);
"""
CANCELLED = {"error": "cancelled", "message": "the job was cancelled by request"}


@dataclass(frozen=True)
class TaskResult:
    """What a task hands back: a JSON body, and for generation a file with its headers."""

    body: dict[str, Any]
    file: Path | None = None
    file_name: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A job as stored. ``file_path`` is server-side and never shown."""

    id: str
    kind: str
    owner: str
    status: str
    progress: float
    created: float
    started: float | None
    finished: float | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    http_status: int | None
    file_path: str | None
    file_name: str | None
    headers: dict[str, str]
    cancel_requested: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The public view: no owner, no server paths."""

        def iso(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 3),
            "created_at": iso(self.created),
            "started_at": iso(self.started),
            "finished_at": iso(self.finished),
            "status_url": f"/v1/jobs/{self.id}",
            "result": self.result,
            "error": self.error,
        }
        if self.error is not None:
            out["http_status"] = self.http_status
        elif self.cancel_requested:  # it ends at its next progress report
            out["cancel_requested"] = True
        if self.file_path is not None and self.status == DONE:
            out["download_url"] = f"/v1/jobs/{self.id}/file"
        return out


_STARTED = time.time()  # a job this process's pid owns from before then is a predecessor's
WORKER_EXITED = {"error": "worker_exited", "message": "the worker process ended"}


def worker_gone(pid: int, created: float) -> bool:
    """Whether a queued or running job's worker is gone (or was an earlier process that had
    this process's pid, as a restarted container's often does)."""
    if pid == os.getpid():
        return created < _STARTED
    return not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobStore:
    """Jobs in SQLite (``jobs.sqlite`` under the state folder); one connection per call.

    Raises:
        ApiError: 503 when the database cannot be opened.
    """

    def __init__(self, folder: Path, ttl_s: float) -> None:
        self.folder, self.ttl_s = folder, ttl_s
        self.path = folder / "jobs.sqlite"
        self.outputs = folder / "outputs"
        self._last_sweep = 0.0
        self.outputs.mkdir(parents=True, exist_ok=True)
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.executescript(_SCHEMA)
            columns = {row[1] for row in c.execute("PRAGMA table_info(jobs)")}
            if "cancel" not in columns:  # a state folder from before cancelling
                c.execute("ALTER TABLE jobs ADD COLUMN cancel INTEGER NOT NULL DEFAULT 0")

    @contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as conn, conn:
                yield conn
        except sqlite3.Error as exc:
            log.error("job database %s: %s", self.path, exc)
            raise ApiError(503, "unavailable", "job database unavailable") from exc

    def create(self, kind: str, owner: str) -> str:
        job_id = uuid.uuid4().hex
        with self._conn() as c:
            c.execute(
                "INSERT INTO jobs (id, kind, owner, status, created, pid) VALUES (?,?,?,?,?,?)",
                (job_id, kind, owner, QUEUED, time.time(), os.getpid()),
            )
        self.sweep()
        return job_id

    def update(self, job_id: str, **values: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self._conn() as c:
            c.execute(f"UPDATE jobs SET {cols} WHERE id = ?", (*values.values(), job_id))

    def finish(self, job_id: str, result: TaskResult) -> None:
        self.update(
            job_id,
            status=DONE,
            progress=1.0,
            finished=time.time(),
            result=json.dumps(result.body),
            file_path=str(result.file) if result.file else None,
            file_name=result.file_name,
            headers=json.dumps(result.headers),
        )

    def fail(self, job_id: str, status: int, body: dict[str, Any]) -> None:
        self.update(
            job_id, status=FAILED, finished=time.time(), error=json.dumps(body), http_status=status
        )

    def request_cancel(self, job_id: str) -> bool:
        """Mark a queued or running job to be cancelled; whether it was one."""
        with self._conn() as c:
            cur = c.execute(
                "UPDATE jobs SET cancel = 1 WHERE id = ? AND status IN (?, ?)",
                (job_id, QUEUED, RUNNING),
            )
            return cur.rowcount > 0

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.cancelled_among([job_id]))

    def cancelled_among(self, job_ids: list[str]) -> set[str]:
        """Those of ``job_ids`` whose cancel has been requested."""
        marks = ",".join("?" * len(job_ids))
        with self._conn() as c:
            rows = c.execute(
                f"SELECT id FROM jobs WHERE cancel = 1 AND id IN ({marks})", job_ids
            ).fetchall()
        return {r[0] for r in rows}

    def get(self, job_id: str, owner: str | None = None) -> Job | None:
        """The job, or None if unknown, expired or (with ``owner``) someone else's."""
        with self._conn() as c:
            row = c.execute(
                "SELECT id, kind, owner, status, progress, created, started, finished, pid, "
                "result, error, http_status, file_path, file_name, headers, cancel "
                "FROM jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
        if row is None or (owner is not None and row[2] != owner):
            return None
        if row[7] is not None and row[7] < time.time() - self.ttl_s:  # expired, not yet swept
            self.sweep(force=True)  # its file goes now, not at the next job's creation
            return None
        status, pid, error, http_status, finished = row[3], row[8], row[10], row[11], row[7]
        if status in (QUEUED, RUNNING) and worker_gone(pid, row[5]):
            self.fail(job_id, 500, WORKER_EXITED)  # recorded, so the sweep removes it in time
            status, http_status, error = FAILED, 500, json.dumps(WORKER_EXITED)
            finished = time.time()
        return Job(
            row[0],
            row[1],
            row[2],
            status,
            row[4],
            row[5],
            row[6],
            finished,
            json.loads(row[9]) if row[9] else None,
            json.loads(error) if error else None,
            http_status,
            row[12],
            row[13],
            json.loads(row[14]) if row[14] else {},
            bool(row[15]),
        )

    def sweep(self, force: bool = False) -> int:
        """Delete jobs (and their files) finished more than ``ttl_s`` ago; how many went.
        Jobs whose worker process is gone are marked failed first (they finish now)."""
        now = time.time()
        if not force and now - self._last_sweep < SWEEP_EVERY_S:
            return 0
        self._last_sweep = now
        with self._conn() as c:
            pending = c.execute(
                "SELECT id, pid, created FROM jobs WHERE finished IS NULL AND status IN (?, ?)",
                (QUEUED, RUNNING),
            ).fetchall()
        for job_id, pid, created in pending:
            if worker_gone(pid, created):
                self.fail(job_id, 500, WORKER_EXITED)
        with self._conn() as c:
            rows = c.execute(
                "SELECT id, file_path FROM jobs WHERE finished IS NOT NULL AND finished < ?",
                (now - self.ttl_s,),
            ).fetchall()
            c.executemany("DELETE FROM jobs WHERE id = ?", [(r[0],) for r in rows])
        for _, path in rows:
            if path:
                Path(path).unlink(missing_ok=True)
        return len(rows)


class JobStopped(BaseException):
    """Raised in a running job at its next progress report once the server's stop has waited
    long enough for it: a ``BaseException``, so that no library ``except Exception`` takes it
    for a failure of the clip; the ``finally`` blocks on the way out remove its files."""


class JobCancelled(BaseException):
    """Raised in a running job at its next progress report once a client has cancelled it
    (``DELETE /v1/jobs/{id}``, from any worker process: the flag is in the job database).
    A ``BaseException`` as :class:`JobStopped` is, for the same reasons."""


class Progress:
    """A ``progress(n)`` callback (from any thread) that records ``done / total`` at most
    twice a second; it also tells the task its ``job_id``, and stops it at a call
    (:class:`JobStopped`) once ``stop`` is set, or (:class:`JobCancelled`) once the job is
    cancelled: the database is read with each record, so within about half a second."""

    def __init__(self, store: JobStore, job_id: str, total: float, stop: threading.Event) -> None:
        self.store, self.job_id, self.total = store, job_id, max(total, 1.0)
        self.done, self._last = 0.0, 0.0
        self.stop = stop
        self.cancelled = False
        self._lock = threading.Lock()

    def __call__(self, n: float = 1) -> None:
        if self.stop.is_set():
            raise JobStopped("the server is stopping")
        if self.cancelled:
            raise JobCancelled(self.job_id)
        with self._lock:
            self.done += n
            now = time.monotonic()
            due = now - self._last >= PROGRESS_EVERY_S
            if due:
                self._last = now
        if due:
            if self.store.cancel_requested(self.job_id):
                self.cancelled = True
                raise JobCancelled(self.job_id)
            self.store.update(self.job_id, progress=min(self.done / self.total, 0.99))


Task = Callable[[Progress], TaskResult]


def _busy() -> ApiError:
    return ApiError(
        503, "busy", "too many jobs in progress; retry later", headers={"Retry-After": "5"}
    )


def server_stopping(why: str = "the server is stopping", extra: dict | None = None) -> ApiError:
    """The 503 for a request the stopping server cannot finish."""
    return ApiError(503, "unavailable", f"{why}; retry shortly", extra, {"Retry-After": "5"})


class Runner:
    """Runs tasks in a thread pool of ``max_concurrent``; refuses (503) past ``max_queue``.

    After :meth:`shutdown` (the server is stopping) a job that fails, or never gets to run,
    reads ``worker_exited`` (500), as one whose process was killed does: whatever cut it off
    (the interpreter refusing new threads as it exits, a killed subprocess) is the stop's
    doing, not the request's.
    """

    def __init__(self, store: JobStore, max_concurrent: int, max_queue: int) -> None:
        self.store, self.max_queue = store, max_queue
        self.pool = ThreadPoolExecutor(max_concurrent, thread_name_prefix="vidprov-job")
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._stop = threading.Event()  # running jobs stop at their next progress report
        self._futures: dict[str, Future[TaskResult]] = {}  # by job id
        self.pending = 0
        # a cancel that another worker process received: its queued jobs end here
        threading.Thread(target=self._watch, name="vidprov-cancels", daemon=True).start()

    def _watch(self) -> None:
        while not self._closing.wait(PROGRESS_EVERY_S):
            with self._lock:
                queued = [j for j, f in self._futures.items() if not (f.running() or f.done())]
            if queued:
                with suppress(ApiError):
                    for job_id in self.store.cancelled_among(queued):
                        self._drop_queued(job_id)

    def check_room(self) -> None:
        """Refuse early, before an upload is received, when the queue is full now (the
        submit checks again: this only spares a client sending a clip for nothing).

        Raises:
            ApiError: 503 ``busy``, or ``unavailable`` while the server stops.
        """
        if self._closing.is_set():
            raise server_stopping()
        if self.pending >= self.max_queue:
            raise _busy()

    def submit(
        self,
        kind: str,
        owner: str,
        task: Task,
        total: float = 1.0,
        cleanup: Callable[[], None] | None = None,
    ) -> tuple[str, Future[TaskResult]]:
        """Queue ``task``; ``cleanup`` always runs after it (or now, if it is refused).

        Raises:
            ApiError: 503 when the queue is full, or the server is stopping.
        """
        with self._lock:
            full = self.pending >= self.max_queue
            if not full:
                self.pending += 1
        if full:
            if cleanup:
                cleanup()
            raise _busy()
        try:
            job_id = self.store.create(kind, owner)
        except BaseException:
            self._release(cleanup)
            raise
        try:
            future = self.pool.submit(self._run, job_id, task, total, cleanup)
        except RuntimeError as exc:  # the pool is shut: the server is stopping
            self._cancelled(job_id, cleanup)
            raise server_stopping() from exc
        # A job cancelled before it ran (at shutdown, or by its client) never runs: release
        # its slot and files here instead.
        future.add_done_callback(lambda f: f.cancelled() and self._cancelled(job_id, cleanup))
        with self._lock:
            self._futures[job_id] = future
        future.add_done_callback(lambda f: self._forget(job_id))
        return job_id, future

    def _forget(self, job_id: str) -> None:
        with self._lock:
            self._futures.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job (its client asked, or went away): flag it in the job
        database, which every worker reads, and end it at once if this process holds it
        queued; a running one stops at its next progress report, and another process's queued
        one within :data:`PROGRESS_EVERY_S`. Whether it was queued or running.

        Raises:
            ApiError: the job database cannot be written.
        """
        if not self.store.request_cancel(job_id):
            return False
        self._drop_queued(job_id)
        return True

    def _drop_queued(self, job_id: str) -> None:
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            future.cancel()

    def _cancelled(self, job_id: str, cleanup: Callable[[], None] | None) -> None:
        """A queued job dropped, by its client or at shutdown: its slot and files go, and it
        reads failed now (not only once another process notices that this one is gone)."""
        self._release(cleanup)
        with suppress(ApiError):
            if self.store.cancel_requested(job_id):
                self.store.fail(job_id, 409, CANCELLED)
            else:
                self.store.fail(job_id, 500, WORKER_EXITED)

    def _release(self, cleanup: Callable[[], None] | None) -> None:
        with self._lock:
            self.pending -= 1
        if cleanup:
            cleanup()

    def _run(
        self, job_id: str, task: Task, total: float, cleanup: Callable[[], None] | None
    ) -> TaskResult:
        t0 = time.monotonic()
        try:
            try:
                if self.store.cancel_requested(job_id):  # by a client of another worker
                    raise JobCancelled(job_id)
                self.store.update(job_id, status=RUNNING, started=time.time())
                result = task(Progress(self.store, job_id, total, self._stop))
            finally:
                # before the job reads as done or failed: a client that sees it ended can rely
                # on its upload being gone
                self._release(cleanup)
            self.store.finish(job_id, result)
            log.info("job %s done in %.2f s", job_id, time.monotonic() - t0)
            return result
        except BaseException as exc:
            status, body = error_body(exc)
            if isinstance(exc, JobCancelled):
                log.info("job %s cancelled", job_id)
                status, body = 409, CANCELLED
            elif self._closing.is_set():
                # e.g. "cannot schedule new futures after interpreter shutdown": the stop's
                # doing, neither the request's (a 4xx) nor a bug (a traceback)
                log.warning("job %s cut off by the server's shutdown (%r)", job_id, exc)
                status, body = 500, WORKER_EXITED
            elif status >= 500 and not isinstance(exc, ApiError):
                log.error("job %s crashed", job_id, exc_info=exc)
            else:
                log.info("job %s failed: %d %s", job_id, status, body.get("error"))
            with suppress(ApiError):
                self.store.fail(job_id, status, body)
            raise

    async def wait(
        self,
        job_id: str,
        future: Future[TaskResult],
        timeout: float,
        gone: Awaitable[object] | None = None,
    ) -> TaskResult:
        """The task's result, or its exception re-raised.

        ``gone`` returns when the client has hung up (:func:`vidprov.api.deps.client_gone`):
        the job is then cancelled, since no one is left to take its result (nor its id, which
        a synchronous request names only in its answer). Before, an abandoned request's scan
        or generation ran on to the end, holding a worker.

        Raises:
            ApiError: 504 when it takes longer than ``timeout`` (the job carries on; the body
                names it so the client can poll); 503 when the request is cancelled (uvicorn
                does that to requests still open when its stop's grace ends): a JSON answer,
                not uvicorn's plain-text 500; 409 ``cancelled`` when a client cancelled the
                job; 499 ``client_disconnected`` when ``gone`` returned first (the job
                cancelled; no one reads the answer).
        """
        cancelled = ApiError(409, "cancelled", f"job {job_id} was cancelled", {"job_id": job_id})
        waited = asyncio.wrap_future(future)
        # the job's outcome is recorded by the runner; a wait given up on (below) must still
        # retrieve it, or asyncio logs "Future exception was never retrieved"
        waited.add_done_callback(lambda f: f.cancelled() or f.exception())
        watch = asyncio.ensure_future(gone) if gone is not None else None
        if watch is not None:
            watch.add_done_callback(lambda f: f.cancelled() or f.exception())
        try:  # asyncio.wait leaves the job's future alone when this request is cancelled
            done, _ = await asyncio.wait(
                [f for f in (waited, watch) if f is not None],
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if waited in done:
                return waited.result()
            if watch is not None and watch in done:
                log.info("the client waiting on job %s went away: cancelling it", job_id)
                with suppress(ApiError):  # the database: the answer goes to no one anyway
                    await asyncio.to_thread(self.cancel, job_id)
                raise client_gone(
                    f"the client went away before job {job_id} finished; it was cancelled",
                    {"job_id": job_id},
                )
            raise TimeoutError
        except JobCancelled as exc:  # it was running
            raise cancelled from exc
        except asyncio.CancelledError as exc:  # the server stopping cut the request off
            if future.cancelled() and not self._closing.is_set():  # it was queued
                raise cancelled from exc
            why = f"the server is stopping before job {job_id} finished"
            raise server_stopping(why, {"job_id": job_id}) from exc
        except TimeoutError as exc:
            raise ApiError(
                504,
                "timeout",
                f"not finished within {timeout:g} s; the work continues as job {job_id}",
                {"job_id": job_id, "status_url": f"/v1/jobs/{job_id}"},
            ) from exc
        finally:
            if watch is not None:
                watch.cancel()

    def stopping(self) -> None:
        """Stop taking work: queued jobs are dropped (``worker_exited``) and new ones refused
        (503); running ones go on. Called as soon as the stop signal arrives (queued jobs kept
        starting while uvicorn waited up to 10 s for open requests), and by :meth:`shutdown`.
        """
        with self._lock:
            if self._closing.is_set():
                return
            self._closing.set()
        if self.pending:
            log.info("stopping with %d job(s) queued or running", self.pending)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop taking work (the server is stopping): queued jobs are dropped and read
        ``worker_exited`` at once; running ones get ``grace`` seconds to finish, then are
        stopped at their next progress report (``worker_exited``, their files removed). Returns
        once they have ended, or after a second ``grace``.

        The wait is here, before the server returns, because past it the interpreter is
        shutting down: a job could no longer start the worker threads it needs, and a worker
        process stopped by uvicorn's supervisor dies without running its jobs' ``finally``."""
        self.stopping()
        with self._lock:
            running = set(self._futures.values())
        _, left = wait(running, grace)
        if left:
            log.warning("stopping %d running job(s) at their next progress report", len(left))
            self._stop.set()
            _, left = wait(left, grace)
        if left:
            log.warning("%d job(s) still running as the server stops", len(left))

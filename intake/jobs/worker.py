"""``intake run``: the poll on an interval and the daily summary at a set time, until SIGTERM/SIGINT.

The scheduler only calls plain functions that take ``now``; it never runs two polls at once
(``max_instances=1``, ``coalesce``), and a stop signal lets the message in hand finish and commit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from intake.core.errors import HANDLED_ERRORS, exit_status, is_permanent
from intake.core.process import StopFlag
from intake.core.retry import backoff_seconds
from intake.core.settings import Settings
from intake.jobs.daily import send_daily_summary
from intake.jobs.poll import run_once
from intake.mail.smtp import Mailer
from intake.mail.sources.base import MailSource
from intake.mail.sources.imap import ImapSource
from intake.outbox.reminders import queue_reminders
from store.repo import Store

log = logging.getLogger(__name__)


def poll_trigger(settings: Settings) -> IntervalTrigger:
    return IntervalTrigger(minutes=settings.schedule.poll_minutes, timezone=settings.campaign.tz)


def summary_trigger(settings: Settings) -> CronTrigger:
    at = settings.schedule.summary_at
    return CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=settings.campaign.tz)


class Worker:
    def __init__(self, source: MailSource, store: Store, settings: Settings, mailer: Mailer) -> None:
        self.source, self.store, self.settings, self.mailer = source, store, settings, mailer
        self.stop = StopFlag()
        self.cycles = 0
        self.failures = 0  # temporary failures in a row
        self.fatal: BaseException | None = None  # a permanent error that ended the worker
        self.retry_at: float | None = None  # a sooner poll after a temporary failure (monotonic)
        self.poll_again = False  # new mail was announced while a poll ran
        self._stopped = threading.Event()
        self._running = threading.Lock()
        self.scheduler = BackgroundScheduler(timezone=settings.campaign.tz)
        grace = settings.schedule.misfire_grace_seconds
        self.scheduler.add_job(
            self.poll_job,
            poll_trigger(settings),
            id="poll",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
            next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(
            self.retry_job,
            IntervalTrigger(seconds=5, timezone=settings.campaign.tz),
            id="retry",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.summary_job,
            summary_trigger(settings),
            id="summary",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=grace,
        )

    def poll_job(self) -> None:
        """One poll; asked for while one runs (new mail announced by IDLE), another follows it."""
        while not self.stop:
            if not self._running.acquire(blocking=False):
                self.poll_again = True
                return
            try:
                self.poll_again = False
                self._poll_once()
            finally:
                self._running.release()
            if not self.poll_again:
                return

    def _poll_once(self) -> None:
        try:
            result = run_once(self.source, self.store, self.settings, datetime.now(UTC), self.mailer, stop=self.stop)
            self.cycles += 1
            if self.failures:
                log.info("cycle %d succeeded after %d failed attempt(s)", self.cycles, self.failures)
            self.failures = 0
            log.info("cycle %d: %s", self.cycles, result.line())
        except HANDLED_ERRORS as exc:
            self._failed(exc)
        except Exception as exc:
            log.exception("cycle failed unexpectedly")
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        """A permanent error (authentication refused, bad configuration, a database newer than the
        code) ends the worker with its exit status; anything else is tried again, sooner than the
        next interval at first (30 s, 1, 2, 4… minutes), and said so in the log."""
        if is_permanent(exc):
            log.error(
                "stopping: %s (exit status %d; trying again cannot help until this is fixed)", exc, exit_status(exc)
            )
            self.fatal = exc
            self.stop.set()
            self._stopped.set()
            return
        self.failures += 1
        interval = self.settings.schedule.poll_minutes * 60
        delay = backoff_seconds(self.failures, 30, interval)
        log.error("cycle failed (%d in a row): %s; trying again in %d s", self.failures, exc, delay)
        if delay < interval:
            # Picked up by retry_job: a job never calls the scheduler (a shutdown in progress holds
            # its locks while it waits for the running job: that would never end).
            self.retry_at = time.monotonic() + delay

    def retry_job(self) -> None:
        """Every few seconds: the poll that a temporary failure asked to be tried again sooner."""
        if self.retry_at is not None and time.monotonic() >= self.retry_at and not self.stop:
            self.retry_at = None
            self.poll_job()

    def summary_job(self) -> None:
        try:
            send_daily_summary(self.store, self.settings, self.mailer, datetime.now(UTC))
        except HANDLED_ERRORS as exc:
            log.error("daily summary failed: %s", exc)
            if is_permanent(exc):
                self._failed(exc)
                return
        try:
            # 催报 at the summary hour: drafts for a reviewer, or sent with the next poll.
            made = queue_reminders(self.store, self.settings, datetime.now(UTC))
            if made:
                log.info("reminders: %d made for the slot due today", len(made))
        except HANDLED_ERRORS as exc:
            log.error("reminders failed: %s", exc)

    def run(self, *, install_signals: bool = True, max_seconds: float | None = None) -> None:
        """Until SIGTERM/SIGINT, ``max_seconds``, or a permanent error (then ``self.fatal``)."""
        stopped = self._stopped

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: finishing the message in hand, then stopping", signum)
            self.stop.set()
            stopped.set()

        if install_signals:
            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        self.scheduler.start()
        log.info(
            "worker started: poll every %s min, summary at %s (%s)",
            self.settings.schedule.poll_minutes,
            self.settings.schedule.summary_at,
            self.settings.campaign.timezone,
        )
        idle = self._start_idle()
        stopped.wait(timeout=max_seconds)
        self.stop.set()
        stopped.set()
        if idle is not None:
            idle.join(timeout=30)
        self.scheduler.shutdown(wait=True)
        log.info("worker stopped after %d cycle(s)", self.cycles)

    def _start_idle(self) -> threading.Thread | None:
        """Where the server offers IDLE, new mail is polled for as soon as it is announced (the
        interval poll goes on as well, and takes over whenever IDLE is not there)."""
        if not isinstance(self.source, ImapSource):
            return None
        thread = threading.Thread(
            target=self.source.watch, args=(self._stopped, self.poll_job), name="imap-idle", daemon=True
        )
        thread.start()
        return thread

    def next_fire_times(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}


def fire_times(trigger: Any, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` times a trigger fires after ``start`` (a controlled clock, for checks)."""
    out: list[datetime] = []
    previous = None
    now = start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None:
            break
        out.append(nxt)
        previous = nxt
        now = nxt + timedelta(microseconds=1)
    return out

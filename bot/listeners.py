"""Every command, click and event is registered the same way: an acknowledgement that does
nothing but ``ack()``, and one lazy listener that does the work afterwards.

Bolt runs the app with ``process_before_response=True``: the acknowledgement runs in the
thread that took the HTTP request (or the Socket Mode message) and Slack gets its answer as
soon as it returns, while the lazy listener runs on the listener executor. So a slow
database or a slow Slack call never delays the acknowledgement, however many requests
arrive at once (Slack shows "dispatch_failed" after 3 seconds). The work also lets
acknowledgements still in progress go first (up to half a second), since both compete for
one interpreter.

A modal's form (view_submission) gets its own acknowledgement, still without any database
or Slack call: it reads the form and answers with inline errors or the next view
(``bot.handlers.submissions``).

The work is routed by the typed request's endpoint ("/signals", "action case_tag",
"event app_home_opened", "view note_add"). A failure anywhere goes to the one error handler registered with
``app.error`` (``on_error``, which ``bot.failures`` explains): Bolt calls it for
middleware and acknowledgements, ``work`` hands it its own failures through Bolt's
listener runner, so there is one path for every failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, BoltContext, BoltRequest

from bot.directory import SlackDirectory
from bot.failures import report_failure
from bot.handlers.commands import Commands
from bot.handlers.home import HomeTab
from bot.handlers.interactions import Interactions
from bot.handlers.submissions import Submissions
from bot.metrics import Metrics
from bot.org_charts import OrgCharts
from bot.replies import Respond
from bot.requests import SlackRequest, SubmissionRequest
from services.tracker import Tracker

Handler = Callable[[Any, Any, Respond], None]

HOME_OPENED = "app_home_opened"
# The longest the work after an acknowledgement waits for other requests still being
# acknowledged (see Metrics.wait_for_acknowledgements).
ACK_PRIORITY_SECONDS = 0.5


class SlackListeners:
    def __init__(self, tracker: Tracker, directory: SlackDirectory, metrics: Metrics) -> None:
        self.metrics = metrics
        charts = OrgCharts(tracker.cfg)  # one upload cache for every reply and modal
        self.commands = Commands(tracker, directory, charts)
        self.home = HomeTab(tracker, directory)
        self.interactions = Interactions(tracker, directory, self.commands, self.home, charts)
        self.submissions = Submissions(tracker, directory, self.commands, charts)
        self.routes: dict[str, Handler] = {name: self.commands.run for name in self.commands.names}
        self.routes |= {f"action {action_id}": self.interactions.run for action_id in self.interactions.action_ids}
        self.routes |= {f"view {callback_id}": self.submissions.run for callback_id in self.submissions.callback_ids}
        self.routes[f"event {HOME_OPENED}"] = self.home.opened

    def register(self, app: Any) -> None:
        for name in self.commands.names:
            app.command(name)(ack=self.acknowledge, lazy=[self.work])
        for action_id in self.interactions.action_ids:
            app.action(action_id)(ack=self.acknowledge, lazy=[self.work])
        for callback_id in self.submissions.callback_ids:
            app.view(callback_id)(ack=self.acknowledge_submission, lazy=[self.work])
        app.event(HOME_OPENED)(ack=self.acknowledge, lazy=[self.work])
        app.error(self.on_error)

    def acknowledge(self, ack: Ack, context: BoltContext) -> None:
        ack()
        taken: SlackRequest | None = context.get("slack_request")
        received_at = context.get("received_at")
        if taken is not None and received_at is not None:
            self.metrics.acked(taken.endpoint, time.perf_counter() - received_at)

    def acknowledge_submission(self, ack: Ack, context: BoltContext) -> None:
        taken = context.get("slack_request")
        self.submissions.acknowledge(ack, taken if isinstance(taken, SubmissionRequest) else None)
        received_at = context.get("received_at")
        if taken is not None and received_at is not None:
            self.metrics.acked(taken.endpoint, time.perf_counter() - received_at)

    def work(self, context: BoltContext, client: Any, respond: Respond, request: BoltRequest) -> None:
        taken: SlackRequest | None = context.get("slack_request")
        if taken is None:
            return
        self.metrics.wait_for_acknowledgements(ACK_PRIORITY_SECONDS)
        started = time.perf_counter()
        failed = False
        try:
            self.routes[taken.endpoint](taken, client, respond)
        except Exception as exc:  # to the app's one error handler, as Bolt does for listeners
            failed = True
            context.listener_runner.listener_error_handler.handle(error=exc, request=request, response=None)
        finally:
            self.metrics.worked(taken.endpoint, time.perf_counter() - started, failed=failed)

    def on_error(self, error: Exception, request: BoltRequest, context: BoltContext, client: Any) -> None:
        """The app's error handler (``app.error``): log, count, and tell the person."""
        taken: SlackRequest | None = context.get("slack_request")
        if taken is not None and not request.lazy_only:  # `work` counts its own failures
            self.metrics.failed(taken.endpoint)
        respond = context.respond if context.response_url else None
        report_failure(error, taken, client, respond)

"""The work behind each command, click and event, done after Slack has been acknowledged
(``bot.listeners`` registers them). Handlers take the typed request of ``bot.requests``,
ask ``services.tracker.Tracker`` (never the database), and render with ``bot.messages``."""

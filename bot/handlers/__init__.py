"""Bolt listeners: slash commands, clicks and events. They acknowledge first, then ask the
services in saas_tracker/ and render with the builders in bot/; they never compute scores."""

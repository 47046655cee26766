"""Bolt listeners: slash commands, clicks and events. They acknowledge first, then ask the
services in services/ and render with the builders in bot/; they never compute scores."""

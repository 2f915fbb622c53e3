"""What bridge does for a caller, whichever shell asks: ingest a webhook, replay stored events,
purge what retention allows, tell an event's story."""

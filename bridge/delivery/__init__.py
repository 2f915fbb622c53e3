"""Delivery: claim due deliveries, send them in vendor-sized batches, record what happened."""

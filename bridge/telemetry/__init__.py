"""What bridge says about itself: log lines and Prometheus metrics."""

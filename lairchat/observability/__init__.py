"""What an operator sees of the running server: logs (:mod:`.logs`), Prometheus
metrics (:mod:`.metrics`), the per-request log line, ``/metrics`` and ``/ready``
(:mod:`.http`), and database timing (:mod:`.database`)."""

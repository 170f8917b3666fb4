"""The streaming scorer: a Faust app from the `transactions` topic to scores and alerts."""

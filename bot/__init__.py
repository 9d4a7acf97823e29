"""The Telegram bot: a thin adapter that turns chat messages into `qa` questions and back."""

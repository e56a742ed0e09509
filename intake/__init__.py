"""intake: the nomination mailbox pipeline of the headquarters office."""

__version__ = "0.1.0"

"""The IDSG trainer: losses, the training task and the ACE evaluation."""

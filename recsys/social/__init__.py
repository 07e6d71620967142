"""The social graph: friendships, blocks and share opt-outs, as sparse matrices over users."""

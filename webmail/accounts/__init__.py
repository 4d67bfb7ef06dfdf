"""Per-account web settings: preferences, trusted image senders, and the sign-in sessions
recorded so that "sign out everywhere" and password changes can end them."""

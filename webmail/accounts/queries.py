"""Read-only lookups of webmail.accounts: preferences (defaults until first saved) and the
remote-image decision for one message. Nothing here writes."""

from __future__ import annotations

from mailcore.addresses import canonical_address
from mailcore.directory.models import Account
from mailcore.errors import InvalidAddressError, NotFoundError
from webmail.accounts.models import Preferences, RemoteImages, TrustedImageSender


def get_preferences(account: Account) -> Preferences:
    """The account's preferences; an unsaved row with the defaults if it never changed any."""
    found = Preferences.objects.filter(account=account).first()
    return found if found is not None else Preferences(account=account)


def list_trusted_senders(account: Account) -> list[TrustedImageSender]:
    return list(TrustedImageSender.objects.filter(account=account))


def canonical_sender(address: str) -> str | None:
    """The stored form of a sender address, or None when it is not a usable address."""
    try:
        return canonical_address(address)
    except InvalidAddressError:
        return None


def remote_images_allowed(account: Account, sender: str) -> bool:
    """Whether a message from `sender` shows remote images without the user asking.

    "always": yes. "never": no, whoever sent it (the user can still load them per message).
    "ask" (the default): only for senders on the account's trusted list. The From address is
    not authenticated here; trusting it only costs privacy (a tracker learns the mail was read),
    never script or content, which is what Gmail's "always show from this sender" accepts too.
    """
    policy = get_preferences(account).remote_images
    if policy == RemoteImages.ALWAYS:
        return True
    if policy == RemoteImages.NEVER:
        return False
    canonical = canonical_sender(sender)
    return canonical is not None and (
        TrustedImageSender.objects.filter(account=account, address=canonical).exists()
    )


def get_active_account(account_id: int) -> Account:
    """The active account with this id (for capabilities such as signed image URLs that carry
    it); NotFoundError otherwise, so a disabled account's old URLs stop working."""
    account = Account.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        raise NotFoundError("account not found")
    return account

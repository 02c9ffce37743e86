"""Parallel wrong guesses cannot get past the login lockout."""

import threading
from datetime import timedelta

from sqlmodel import select

from shared import users
from shared.audit import SYSTEM_ACTOR
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.models import User, utcnow
from shared.users import authenticate, create_user

GUESSES = 40
PASSWORD = "correct-pass-1"


def _guess_in_parallel(password: str) -> list[bool]:
    barrier = threading.Barrier(GUESSES)
    results: list[bool] = []

    def guess() -> None:
        barrier.wait(timeout=30)
        with write_session() as session:
            results.append(authenticate(session, username="ilze", password=password).ok)

    threads = [threading.Thread(target=guess) for _ in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == GUESSES
    return results


def test_forty_parallel_wrong_guesses_check_at_most_the_limit_and_lock(any_db, monkeypatch):
    with write_session() as session:
        create_user(session, actor=SYSTEM_ACTOR, username="ilze", password=PASSWORD, role="finance")
    checked: list[str] = []
    counting = threading.Lock()
    real_verify = users.verify_password

    def counting_verify(password_hash: str, password: str) -> bool:
        with counting:
            checked.append(password)
        return real_verify(password_hash, password)

    monkeypatch.setattr(users, "verify_password", counting_verify)
    limit = get_settings().login_max_failures

    assert not any(_guess_in_parallel("wrong-guess"))
    assert len(checked) == limit

    with read_session() as session:
        user = session.exec(select(User).where(User.username == "ilze")).one()
    assert user.locked_until is not None
    assert user.locked_until > utcnow() + timedelta(minutes=1)

    # A second wave, the right password among it, finds the account locked: no password
    # is checked at all, the right one is refused too.
    assert not any(_guess_in_parallel(PASSWORD))
    assert len(checked) == limit

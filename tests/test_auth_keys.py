"""Asymmetric verification: RS256/ES256 public keys or a JWKS file, HS256 then refused."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from loket import auth
from loket.settings import DEV_JWT_SECRET


def _claims(**extra: object) -> dict[str, object]:
    now = datetime.datetime.now(datetime.UTC)
    return {
        "sub": str(uuid.uuid4()),
        "iss": "loket",
        "aud": "loket-api",
        "iat": now,
        "exp": now + datetime.timedelta(minutes=5),
        **extra,
    }


@pytest.fixture
def use_settings(monkeypatch: pytest.MonkeyPatch):
    def apply(**changes: object) -> None:
        monkeypatch.setattr(auth, "settings", dataclasses.replace(auth.settings, **changes))
        auth._jwks.cache_clear()
        auth._public_key.cache_clear()

    yield apply
    auth._jwks.cache_clear()
    auth._public_key.cache_clear()


def _pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _configure_rsa_public_key(tmp_path: Path, use_settings) -> rsa.RSAPrivateKey:
    """A fresh RSA key whose public half is the configured verification key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "pub.pem").write_bytes(_pem(key))
    use_settings(
        jwt_secret=None,
        jwt_public_key_file=str(tmp_path / "pub.pem"),
        jwt_algorithms=("RS256", "ES256"),
    )
    return key


def test_rs256_token_verifies_with_the_configured_public_key(tmp_path: Path, use_settings) -> None:
    key = _configure_rsa_public_key(tmp_path, use_settings)
    claims = _claims()

    user_id = auth.decode_token(jwt.encode(claims, key, algorithm="RS256"))

    assert str(user_id) == claims["sub"]


def test_hs256_token_is_refused_when_asymmetric_keys_are_configured(
    tmp_path: Path, use_settings
) -> None:
    _configure_rsa_public_key(tmp_path, use_settings)

    with pytest.raises(auth.TokenError) as excinfo:
        auth.decode_token(jwt.encode(_claims(), DEV_JWT_SECRET, algorithm="HS256"))

    assert excinfo.value.code == "INVALID_TOKEN"


def test_es256_token_verifies_through_a_jwks_file_by_key_id(tmp_path: Path, use_settings) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "k1", "alg": "ES256", "use": "sig"})
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk]}))
    use_settings(
        jwt_secret=None, jwt_jwks_file=str(tmp_path / "jwks.json"), jwt_algorithms=("ES256",)
    )
    claims = _claims()

    good = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
    unknown = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k2"})

    assert str(auth.decode_token(good)) == claims["sub"]
    with pytest.raises(auth.TokenError):
        auth.decode_token(unknown)

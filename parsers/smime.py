"""S/MIME: a signature checked against the content it signs, the content of an opaque signed
message (``smime.p7m``) taken out, an encrypted one told apart. CMS structures are read by
asn1crypto, signatures checked by cryptography; the only module that imports either.

A signature's validity here means the content is what was signed: the signer's certificate is
not checked against any authority (a province's government certificate chains to a national CA
this office need not trust to read a mail). A signature in an algorithm cryptography does not
offer (SM2/SM3, used by some Chinese government certificates) is ``unchecked``, never invalid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

SMIME_TYPES = ("application/pkcs7-signature", "application/x-pkcs7-signature")
OPAQUE_TYPES = ("application/pkcs7-mime", "application/x-pkcs7-mime")
ENCRYPTED_MAIL = "邮件经过数字证书加密，无法读取，请发送不加密的邮件"

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass(frozen=True)
class Verdict:
    state: str  # valid | invalid | unchecked
    detail: str = ""  # why (Chinese), for the flag
    signer: str = ""


def _load(data: bytes) -> cms.ContentInfo | None:
    """A CMS structure from DER, or from the base64 some mailers put in a .p7m file."""
    for candidate in (data, _unbase64(data)):
        if not candidate:
            continue
        try:
            info = cms.ContentInfo.load(candidate)
            info["content_type"].native  # noqa: B018 (asn1crypto parses lazily: make it parse now)
            return info
        except (ValueError, TypeError, KeyError, IndexError, OverflowError):
            continue
    return None


def _unbase64(data: bytes) -> bytes:
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        text = b"".join(line for line in text.splitlines() if not line.startswith(b"-----"))
    try:
        return base64.b64decode(text, validate=False) if text[:1].isalnum() else b""
    except (binascii.Error, ValueError):
        return b""


def cms_kind(data: bytes) -> str:
    """signed | enveloped | other | damaged."""
    info = _load(data)
    if info is None:
        return "damaged"
    kind = info["content_type"].native
    if kind == "signed_data":
        return "signed"
    if kind in ("enveloped_data", "authenticated_enveloped_data", "encrypted_data"):
        return "enveloped"
    return "other"


def signed_content(data: bytes) -> bytes | None:
    """The content an opaque signed message carries (a MIME entity), None when it carries none."""
    info = _load(data)
    if info is None or info["content_type"].native != "signed_data":
        return None
    try:
        content = info["content"]["encap_content_info"]["content"]
        value = content.native if content else None
    except (ValueError, TypeError, KeyError):
        return None
    return value if isinstance(value, bytes) else None


def verify(content: bytes | None, signature: bytes) -> Verdict:
    """Whether ``signature`` (a CMS SignedData, detached when ``content`` is given) signs the
    content: the digest in its signed attributes matches, and the signer's key signed those."""
    info = _load(signature)
    if info is None or info["content_type"].native != "signed_data":
        return Verdict("invalid", "签名数据已损坏")
    try:
        signed = info["content"]
        data = content if content is not None else signed_content(signature)
        if data is None:
            return Verdict("unchecked", "签名中没有内容")
        certificates = [c.chosen for c in signed["certificates"] or [] if c.name == "certificate"]
        verdicts = [_check_signer(si, certificates, data) for si in signed["signer_infos"]]
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        return Verdict("invalid", f"签名数据无法解析：{type(exc).__name__}")
    if not verdicts:
        return Verdict("invalid", "签名中没有签名者")
    for state in ("invalid", "unchecked"):
        for v in verdicts:
            if v.state == state:
                return v
    return verdicts[0]


def _check_signer(si: cms.SignerInfo, certificates: list, data: bytes) -> Verdict:
    cert = _signer_certificate(si, certificates)
    if cert is None:
        return Verdict("unchecked", "签名中没有签名者的证书")
    subject = cert.subject.native
    signer = str(subject.get("common_name") or subject.get("email_address") or "")
    algorithm = si["digest_algorithm"]["algorithm"].native
    hash_cls = _HASHES.get(algorithm)
    if hash_cls is None:
        return Verdict("unchecked", f"签名算法 {algorithm} 无法校验", signer)
    attrs = si["signed_attrs"]
    if attrs:
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if not digests or digests[0] != hashlib.new(algorithm, data).digest():
            return Verdict("invalid", "邮件内容与签名不符，签名后被改动", signer)
        to_check = b"\x31" + attrs.dump()[1:]  # signed over as a SET, stored as [0] IMPLICIT
    else:
        to_check = data
    try:
        key = x509.load_der_x509_certificate(cert.dump()).public_key()
        sig = si["signature"].native
        if isinstance(key, rsa.RSAPublicKey):
            if si["signature_algorithm"].signature_algo == "rsassa_pss":
                pss = padding.PSS(mgf=padding.MGF1(hash_cls()), salt_length=padding.PSS.AUTO)
                key.verify(sig, to_check, pss, hash_cls())
            else:
                key.verify(sig, to_check, padding.PKCS1v15(), hash_cls())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, to_check, ec.ECDSA(hash_cls()))
        else:
            return Verdict("unchecked", "签名所用的密钥类型无法校验", signer)
    except InvalidSignature:
        return Verdict("invalid", "签名与签名者的证书不符", signer)
    except (UnsupportedAlgorithm, ValueError, TypeError) as exc:
        return Verdict("unchecked", f"签名无法校验：{type(exc).__name__}", signer)
    return Verdict("valid", "", signer)


def _signer_certificate(si: cms.SignerInfo, certificates: list) -> object | None:
    sid = si["sid"]
    for cert in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if cert.issuer == wanted["issuer"] and cert.serial_number == wanted["serial_number"].native:
                return cert
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return cert
    return None


def canonical(data: bytes) -> bytes:
    """A MIME entity with CRLF line ends, as S/MIME signs it (a mail stored with LF only)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

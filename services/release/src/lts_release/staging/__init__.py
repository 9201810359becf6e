"""Staging of release candidates: everything between CI's upload and a sealed, signed bundle.

- `store.py`: content-addressed artifact store (port + filesystem), SHA-256 on receipt
- `keys.py`: the signing key (ECDSA P-256 / Ed25519), never exposed
- `checksums.py`: SHA256SUMS; `dsse.py`: DSSE envelopes; `provenance.py`: in-toto + SLSA
- `manifest.py`: the build manifest; `sbom.py`: CycloneDX SBOMs
- `bundle.py`: the offline tar.gz; `seal.py`: all of it for one candidate
- `verify.py`: offline verification of a bundle (`lts release verify`)
- `names.py`: artifact names and the bundle's layout"""

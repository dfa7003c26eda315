"""C2PA provenance: sign clips, verify them against trust anchors, bind manifests to the
watermark (soft binding), keep every manifest in a store, and edit with lineage."""

from vidprov.provenance.edit import concat_files, trim_file
from vidprov.provenance.manifest import SignOptions
from vidprov.provenance.pki import PkiPaths, create_dev_pki
from vidprov.provenance.sign import Ingredient, SignResult, sign_file
from vidprov.provenance.signer import CallbackSigner, FileSigner, load_signer
from vidprov.provenance.softbinding import ALG, SoftBindingBlock
from vidprov.provenance.store import ManifestStore, StoredManifest
from vidprov.provenance.verify import C2paReport, Recovered, VerifyReport, verify_file

__all__ = [
    "ALG",
    "C2paReport",
    "CallbackSigner",
    "FileSigner",
    "Ingredient",
    "ManifestStore",
    "PkiPaths",
    "Recovered",
    "SignOptions",
    "SignResult",
    "SoftBindingBlock",
    "StoredManifest",
    "VerifyReport",
    "concat_files",
    "create_dev_pki",
    "load_signer",
    "sign_file",
    "trim_file",
    "verify_file",
]

"""The named datasets: where they come from, what their files hash to, what their classes are."""

from __future__ import annotations

from dataclasses import dataclass, field

from shallowvision.exceptions import DataError, did_you_mean

__all__ = ["DatasetSpec", "RemoteFile", "get_dataset_names", "get_dataset_spec"]


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a dataset.

    ``sha256`` is the hash of the file as published; ``content_sha256`` the hash of its
    decompressed payload, which stays the same when a distribution re-compresses the
    file (Debian's Fashion-MNIST copies differ from the originals only in the gzip header).
    """

    name: str
    sha256: str
    size: int | None = None
    content_sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A named dataset in the registry."""

    name: str
    description: str
    class_names: tuple[str, ...]
    n_train: int
    n_test: int
    image_shape: tuple[int, int]
    #: ``"idx"``: four IDX files; ``"emnist"``: one split inside the official EMNIST zip;
    #: ``"sklearn"``: embedded in scikit-learn.
    kind: str
    homepage: str
    files: dict[str, RemoteFile] = field(default_factory=dict)
    mirrors: tuple[str, ...] = ()
    #: Folder name under data / cache / system directories (the EMNIST splits share one zip).
    dirname: str = ""
    #: Where distributions install a copy.
    system_dirs: tuple[str, ...] = ()
    #: EMNIST split inside the zip, e.g. ``"balanced"``.
    emnist_split: str = ""
    #: Added to every label as stored (EMNIST letters are stored 1..26).
    label_offset: int = 0
    license: str = ""

    @property
    def folder(self) -> str:
        return self.dirname or self.name


_IDX_ROLES = ("train_images", "train_labels", "test_images", "test_labels")
_IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _idx_files(*hashes: tuple[str, int | None, str | None]) -> dict[str, RemoteFile]:
    return {
        role: RemoteFile(name, sha, size, content)
        for role, name, (sha, size, content) in zip(_IDX_ROLES, _IDX_NAMES, hashes, strict=True)
    }


_DIGITS = tuple(str(d) for d in range(10))
_UPPER = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1))
_LOWER = tuple(chr(c) for c in range(ord("a"), ord("z") + 1))
# EMNIST balanced / bymerge merge the 15 lowercase letters that look like their capitals.
_MERGED_LOWER = ("a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t")

_EMNIST_ZIP = RemoteFile(
    "gzip.zip",
    "fb9bb67e33772a9cc0b895e4ecf36d2cf35be8b709693c3564cea2a019fcda8e",
    561753746,
)
_EMNIST_MIRRORS = (
    "https://biometrics.nist.gov/cs_links/EMNIST/",
    "http://www.itl.nist.gov/iaui/vip/cs_links/EMNIST/",
)
_EMNIST_HOME = "https://www.nist.gov/itl/products-and-services/emnist-dataset"


def _emnist(
    split: str, classes: tuple[str, ...], n_train: int, n_test: int, what: str
) -> DatasetSpec:
    return DatasetSpec(
        name=f"emnist-{split}",
        description=f"EMNIST {split}: {what}",
        class_names=classes,
        n_train=n_train,
        n_test=n_test,
        image_shape=(28, 28),
        kind="emnist",
        homepage=_EMNIST_HOME,
        files={"archive": _EMNIST_ZIP},
        mirrors=_EMNIST_MIRRORS,
        dirname="emnist",
        emnist_split=split,
        label_offset=-1 if split == "letters" else 0,
        license="public domain (NIST)",
    )


_REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="digits",
            description="UCI optical handwritten digits, 8x8, embedded in scikit-learn",
            class_names=_DIGITS,
            n_train=1438,
            n_test=359,
            image_shape=(8, 8),
            kind="sklearn",
            homepage="https://archive.ics.uci.edu/dataset/80",
            license="CC BY 4.0",
        ),
        DatasetSpec(
            name="fashion-mnist",
            description="Zalando Fashion-MNIST: 28x28 grayscale garments",
            class_names=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            n_train=60000,
            n_test=10000,
            image_shape=(28, 28),
            kind="idx",
            homepage="https://github.com/zalandoresearch/fashion-mnist",
            files=_idx_files(
                (
                    "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                    26421880,
                    "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                ),
                (
                    "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                    29515,
                    "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                ),
                (
                    "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                    4422102,
                    "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                ),
                (
                    "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                    5148,
                    "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                ),
            ),
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            ),
            system_dirs=("/usr/share/datasets/fashion-mnist",),
            license="MIT",
        ),
        DatasetSpec(
            name="mnist",
            description="LeCun, Cortes and Burges' MNIST handwritten digits, 28x28",
            class_names=_DIGITS,
            n_train=60000,
            n_test=10000,
            image_shape=(28, 28),
            kind="idx",
            homepage="http://yann.lecun.com/exdb/mnist/",
            files=_idx_files(
                ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422, None),
                ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881, None),
                ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877, None),
                ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542, None),
            ),
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            system_dirs=("/usr/share/datasets/mnist",),
            license="CC BY-SA 3.0",
        ),
        DatasetSpec(
            name="kmnist",
            description="Kuzushiji-MNIST: ten cursive Japanese hiragana, 28x28",
            class_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            n_train=60000,
            n_test=10000,
            image_shape=(28, 28),
            kind="idx",
            homepage="https://github.com/rois-codh/kmnist",
            files=_idx_files(
                ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4", None, None),
                ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17", None, None),
                ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5", None, None),
                ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c", None, None),
            ),
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            system_dirs=("/usr/share/datasets/kmnist",),
            license="CC BY-SA 4.0",
        ),
        _emnist("digits", _DIGITS, 240000, 40000, "10 digits, balanced"),
        _emnist("letters", _LOWER, 124800, 20800, "26 letters, upper and lower case merged"),
        _emnist("balanced", _DIGITS + _UPPER + _MERGED_LOWER, 112800, 18800, "47 balanced classes"),
        _emnist("byclass", _DIGITS + _UPPER + _LOWER, 697932, 116323, "62 unbalanced classes"),
        _emnist(
            "bymerge", _DIGITS + _UPPER + _MERGED_LOWER, 697932, 116323, "47 unbalanced classes"
        ),
        _emnist("mnist", _DIGITS, 60000, 10000, "10 digits, MNIST-sized"),
    )
}


def get_dataset_names() -> list[str]:
    """Names of every registered dataset."""
    return list(_REGISTRY)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registry entry of a named dataset.

    Raises
    ------
    DataError
        If the name is unknown; the message suggests close matches.
    """
    key = name.strip().lower().replace("_", "-")
    if key in _REGISTRY:
        return _REGISTRY[key]
    hint = did_you_mean(key, _REGISTRY, n=3)
    raise DataError(
        f"unknown dataset {name!r}: {hint}known datasets are {', '.join(_REGISTRY)}, "
        "or give a path to a file or folder"
    )


def is_dataset_name(name: str) -> bool:
    return name.strip().lower().replace("_", "-") in _REGISTRY

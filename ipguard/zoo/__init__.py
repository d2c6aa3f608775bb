"""The zoo: the target and its suspects on disk (one folder per member) and the suspect
families they belong to (``ipguard.zoo.suspects``)."""

from ipguard.zoo.collection import Zoo, is_built, load_zoo, member_dir
from ipguard.zoo.member import (
    BUILD_COMMAND,
    FOREST_FILE,
    MEMBER_FILE,
    ROLES,
    WEIGHTS_FILE,
    Member,
    build_from_spec,
    file_sha256,
    load_state,
    save_member,
    save_weights,
)

__all__ = [
    "BUILD_COMMAND", "FOREST_FILE", "MEMBER_FILE", "ROLES", "WEIGHTS_FILE", "Member", "Zoo",
    "build_from_spec", "file_sha256", "is_built", "load_state", "load_zoo", "member_dir",
    "save_member", "save_weights",
]

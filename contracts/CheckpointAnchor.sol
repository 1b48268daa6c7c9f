// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Checkpoint anchor for a transparency log (Tanhui audit log, docs/decisions/0012-audit-log.md)
/// @notice Records the latest (tree size, root) of each log origin. A log only ever grows, so the
/// contract refuses a smaller tree size for the same origin, and a different root for the same size:
/// either would be a fork, and the chain's ordered record makes it public.
contract CheckpointAnchor {
    struct Head {
        uint64 size;
        bytes32 root;
    }

    address public immutable owner;
    mapping(bytes32 => Head) private heads;

    event Anchored(bytes32 indexed originHash, string origin, uint64 size, bytes32 root);

    error NotOwner();
    error SizeBackwards(uint64 latest, uint64 offered);
    error RootConflict(uint64 size);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Anchor checkpoint (origin, size, root); the same head again is accepted (a retry).
    function anchor(string calldata origin, uint64 size, bytes32 root) external {
        if (msg.sender != owner) revert NotOwner();
        bytes32 key = keccak256(bytes(origin));
        Head memory last = heads[key];
        if (size < last.size) revert SizeBackwards(last.size, size);
        if (size == last.size && last.root != bytes32(0) && last.root != root) revert RootConflict(size);
        heads[key] = Head(size, root);
        emit Anchored(key, origin, size, root);
    }

    /// @notice The latest anchored (size, root) of an origin; (0, 0) when none.
    function latest(string calldata origin) external view returns (uint64 size, bytes32 root) {
        Head memory last = heads[keccak256(bytes(origin))];
        return (last.size, last.root);
    }
}

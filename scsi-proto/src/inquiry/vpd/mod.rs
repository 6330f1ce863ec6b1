pub mod block_limits;
pub mod characteristics;
pub mod designator;
pub mod device_id;
pub mod extended;
pub mod provisioning;
pub mod serial;
pub mod supported;

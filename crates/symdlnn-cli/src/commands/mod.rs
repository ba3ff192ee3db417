pub mod simulate;
pub mod systems;

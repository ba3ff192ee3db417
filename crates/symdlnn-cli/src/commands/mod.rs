pub mod evaluate;
pub mod inspect;
pub mod predict;
pub mod simulate;
pub mod systems;
pub mod train;

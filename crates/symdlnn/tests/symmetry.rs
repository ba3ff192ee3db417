//! Null-space symmetry discovery on exact discrete Lagrangians, where the
//! answer is known.

use symdlnn::data::{generate, Dataset};
use symdlnn::learn::symmetry::{
    agreement, conserved_quantity, discover, EvaluationPoints, SymmetryBasis,
};
use symdlnn::mechanics::{Convergence, Lagrangian, Midpoint, System};

fn data(system: &System, trajectories: usize) -> Dataset {
    let grid = system.default_grid();
    let ics = if trajectories == 1 {
        vec![system.default_initial_condition()]
    } else {
        generate::sample_initial_conditions(&system.initial_box(), trajectories, 1)
    };
    generate::dataset(system, &ics, grid, Convergence::default()).unwrap()
}

#[test]
fn exact_midpoint_lagrangians_reveal_their_symmetry_to_nine_digits() {
    for name in ["cartpend", "kepler"] {
        let s = System::from_name(name).unwrap();
        let d = data(&s, 1);
        let ld = Midpoint::new(&s, d.dt);
        for points in ["train", "box:200", "train+box:200"] {
            let pairs = EvaluationPoints::parse(points).unwrap().pairs(&d, 0);
            let found = discover(&ld, SymmetryBasis::Affine, 1, &pairs).unwrap();
            let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
            let a = agreement(&learned, &s.symmetries())[0];
            assert!(a > 1.0 - 1e-9, "{name} {points}: agreement {a}");
            // The symmetry's singular value is at rounding level, the next is not.
            assert!(found.spectrum[0] < 1e-10, "{name}: {:?}", found.spectrum);
            assert!(found.gap.unwrap() > 1e6, "{name}: gap {:?}", found.gap);
        }
    }
}

#[test]
fn free_particle_and_kepler3d_spans_are_found_with_several_trajectories() {
    for (name, k) in [("free-particle", 3), ("kepler3d", 3)] {
        let s = System::from_name(name).unwrap();
        let d = data(&s, 5);
        let ld = Midpoint::new(&s, d.dt);
        let pairs = EvaluationPoints::parse("train+box:200")
            .unwrap()
            .pairs(&d, 0);
        let found = discover(&ld, SymmetryBasis::Affine, k, &pairs).unwrap();
        let learned: Vec<_> = found.generators.iter().map(|g| g.affine()).collect();
        let angles = agreement(&learned, &s.symmetries());
        assert_eq!(angles.len(), k);
        assert!(
            angles.iter().all(|a| *a < 1e-4),
            "{name}: principal angles {angles:?} degrees"
        );
    }
}

#[test]
fn rotation_basis_and_conserved_quantity_of_kepler() {
    // Data from the same Ld (no fine steps): its discrete Noether momentum is exact.
    let s = System::from_name("kepler").unwrap();
    let (q0, v0) = s.default_initial_condition();
    let mut grid = s.default_grid();
    grid.fine = 1;
    let d = generate::dataset(&s, &[(q0, v0)], grid, Convergence::default()).unwrap();
    let ld = Midpoint::new(&s, d.dt);
    let pairs = EvaluationPoints::parse("train").unwrap().pairs(&d, 0);
    let found = discover(&ld, SymmetryBasis::Rotations, 1, &pairs).unwrap();
    let g = found.generators[0].affine();
    assert_eq!(found.generators[0].description, "rotation");
    // Along the data, the learned Noether quantity is constant to rounding.
    let i = conserved_quantity(&ld, &g, &d.trajectories[0].q);
    let drift = i.iter().map(|x| (x - i[0]).abs()).fold(0.0, f64::max);
    assert!(drift < 1e-12 * i[0].abs(), "drift {drift:e} of {}", i[0]);
    assert_eq!(s.dim(), 2);
}

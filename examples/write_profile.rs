use archivist::store::{Access, RefreshOutcome, Store};
use archivist::vod::Vod;
use std::time::Instant;
fn main() {
    let dir = std::path::PathBuf::from(format!("/tmp/benchwork-x/wp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("w.db"), Access::ReadWrite).unwrap();
    store.fill_station(100_000, 3).unwrap();
    let vods = store.first_vods(20_000).unwrap();
    for round in 0..8 {
        let changed: Vec<RefreshOutcome> = vods
            .iter()
            .map(|v| {
                RefreshOutcome::Changed(Vod {
                    percent_complete: Some(round as f64 / 10.0),
                    ..v.clone()
                })
            })
            .collect();
        let cpu0 = cpu();
        let t = Instant::now();
        for chunk in changed.chunks(50) {
            store.apply_refresh(chunk).unwrap();
        }
        let wall = t.elapsed().as_secs_f64();
        let c = cpu() - cpu0;
        eprintln!(
            "{:.0} rows/s wall, {:.0} rows/s cpu",
            20000.0 / wall,
            20000.0 / c
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

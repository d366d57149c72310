use archivist::demo::{DemoStation, StationOptions};
use archivist::store::{Access, Store};
use std::io::Read;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "fill" => {
            let store = Store::open(std::path::Path::new(&args[2]), Access::ReadWrite).unwrap();
            let size = store.fill_station(args[3].parse().unwrap(), 5).unwrap();
            eprintln!("{size:?}");
        }
        "serve" => {
            let demo = DemoStation::start(StationOptions {
                shows: args[2].parse().unwrap(),
                ..StationOptions::default()
            })
            .unwrap();
            println!("{}", demo.api_url());
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        }
        _ => {}
    }
}

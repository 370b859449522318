fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match carpd::cli::parse(&args) {
        Ok(c) => println!("{c:?}"),
        Err(e) => {
            eprintln!("carpd: {e}");
            std::process::exit(64);
        }
    }
}

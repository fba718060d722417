//! Runs a throwaway PostgreSQL cluster for as long as its standard input stays open: prints the
//! URL of its `postgres` database on the first line, and stops the server and deletes its files
//! when the input closes (the test command's PostgreSQL pass; the input closes with the
//! command, however it ends).

use std::io::{Read, Write};

fn main() {
    let cluster = custodian_e2e::pg::Cluster::start();
    let mut out = std::io::stdout();
    writeln!(out, "{}", cluster.url_of("postgres")).expect("the URL is printed");
    out.flush().expect("the URL is printed");
    let mut rest = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut rest);
    drop(cluster);
}

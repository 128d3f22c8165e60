//! Prints the recovery decision for all 2^11 inputs as JSON.
fn main() {
    println!("{}", journal::decision_table::table_json());
}

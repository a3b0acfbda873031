pub fn run(args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}

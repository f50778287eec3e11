//! An S3-protocol server (s3s-fs over a folder, signature checks on, the
//! test harness's keys) for runs that want the intake on S3 without a cloud:
//! `atelier-s3-under-test ROOT BUCKET ADDRESS`. Prints its endpoint, serves
//! until killed.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, bucket, address] = args.as_slice() else {
        anyhow::bail!("usage: atelier-s3-under-test ROOT BUCKET ADDRESS");
    };
    let endpoint = atelier_tests::serve_s3(std::path::Path::new(root), bucket, address).await?;
    println!("{endpoint}");
    std::future::pending::<()>().await;
    Ok(())
}

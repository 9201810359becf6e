from lts_metrics.main import main

main()

from lts_intake.main import main

main()

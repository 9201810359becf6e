from lts_comms.main import main

main()

package console

func (s *Server) dashboardPages() {}
func (s *Server) adminPages()     {}
